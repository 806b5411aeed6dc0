/**
 * The entry of a sandbox (a child process, or a worker thread for `thread` isolation): loads the task
 * module, runs `setup()`, then runs one task at a time as its supervisor asks. Input and output are parsed
 * here, so zod's work spreads over every core.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { loadTaskModule, type TaskModule } from '../loadTaskModule.ts';
import { serializeError } from '../serializeError.ts';
import { ObjectRequester } from '../objects/objectRequester.ts';
import { LazySignal, type TaskObjects } from './inlineExecutor.ts';
import { runTask } from './runTask.ts';
import type { JobLoop } from './sandboxFetch.ts';
import { NO_OBJECTS, type FromSandbox, type SandboxSettings, type ToSandbox } from './sandboxProtocol.ts';
import type { Ref } from '../objects/objectRef.ts';
import { MessageBatcher, unbatch, type MessageBatch } from './messageBatcher.ts';

const inThread = !isMainThread && parentPort !== null;

/** The messages of one turn leave in one write (see messageBatcher.ts). */
const outbox = new MessageBatcher<FromSandbox>((message) => {
  if (inThread) parentPort?.postMessage(message);
  else process.send?.(message);
});
const send = (message: FromSandbox): void => outbox.send(message);
/** At once: what a self-fetching sandbox tells of its jobs must leave before a handler may hold the event loop. */
const sendNow = (message: FromSandbox): void => {
  outbox.send(message);
  outbox.flush();
};

const onMessage = (listener: (message: ToSandbox) => void): void => {
  const each = (message: ToSandbox | MessageBatch<ToSandbox>): void => {
    for (const one of unbatch(message)) listener(one);
  };
  if (inThread) parentPort?.on('message', each);
  else process.on('message', each);
};

type RunMessage = Extract<ToSandbox, { type: 'run' }>;
/** The run in progress (one at a time) and its signal. */
const running = new Map<number, LazySignal>();
/**
 * Runs sent ahead by the supervisor (while tasks are short it keeps several in flight per sandbox), run in the
 * order sent, one at a time: the next starts as soon as one ends and is answered, without waiting for the supervisor.
 */
const queued: RunMessage[] = [];
let pumping = false;
/** What the worker told this sandbox when it started it. */
const settings = (inThread ? (workerData as { settings?: SandboxSettings }).settings : parseSettings(process.argv[3])) ?? { objects: NO_OBJECTS };
/** `ctx.get(ref)`: asks the supervisor for the object's local file; `ctx.put` writes one and asks it to store it. */
const objects = new ObjectRequester(send, settings.objects);
/** The same, as a task context wants them (a self-fetching sandbox's jobs included). */
const taskObjects: TaskObjects = {
  get: (ref) => objects.get(ref),
  put: (bytes, kind, owner) => objects.put(bytes, kind, owner.jobId),
  inlineMaxBytes: objects.inlineMaxBytes,
};
/** In `fetch: 'sandbox'` mode, the loop that takes this sandbox's jobs (its module loads BullMQ: imported only then). */
let jobLoop: Promise<JobLoop> | undefined;

process.on('uncaughtException', (error) => die(error));
process.on('unhandledRejection', (error) => die(error));
process.on('disconnect', () => process.exit(0));
// In a worker thread, process.exit() ends the thread only.

function die(error: unknown): void {
  send({ type: 'fatal', error: serializeError(error) });
  outbox.flush();
  // Let the IPC message leave before exiting.
  setImmediate(() => process.exit(70));
}

async function main(): Promise<void> {
  const modulePath = inThread ? (workerData as { modulePath?: string }).modulePath : process.argv[2];
  if (!modulePath) throw new Error('sandbox: no task module given');
  let mod: TaskModule;
  try {
    mod = await loadTaskModule(modulePath);
    await mod.setup?.();
  } catch (error) {
    send({ type: 'setup-failed', error: serializeError(error) });
    outbox.flush();
    setImmediate(() => process.exit(78));
    return;
  }
  onMessage((message) => {
    if (message.type === 'run') {
      queued.push(message);
      void pump(mod);
    } else if (message.type === 'object-ready' || message.type === 'object-stored' || message.type === 'object-failed') objects.onReply(message);
    else if (message.type === 'abort') abort(message.runId, message.reason);
    else if (message.type === 'shutdown') void shutdown(mod);
    else if (message.type === 'serve') jobLoop ??= import('./sandboxFetch.ts').then((loop) => loop.serveJobs(mod, message.config, sendNow, taskObjects));
    else if (message.type === 'abort-job') void jobLoop?.then((loop) => loop.abort(message.jobId, message.reason));
    else if (message.type === 'drain') void (jobLoop ?? Promise.resolve(undefined)).then((loop) => loop?.drain()).then(() => send({ type: 'drained' }));
  });
  send({ type: 'ready', pid: process.pid });
}

/** Runs the queued runs in order, one at a time. */
async function pump(mod: TaskModule): Promise<void> {
  if (pumping) return;
  pumping = true;
  try {
    for (let next = queued.shift(); next; next = queued.shift()) {
      await run(mod, next);
      // The answer leaves before the next run starts: a long run must not hold back the result of a short one
      // (nor make the supervisor time the wrong run).
      if (queued.length > 0) outbox.flush();
    }
  } finally {
    pumping = false;
  }
}

/** The supervisor stops a run: a queued one is dropped and answered as failed; a running one's signal fires. */
function abort(runId: number, reason: 'timeout' | 'cancelled' | 'shutdown'): void {
  const at = queued.findIndex((message) => message.runId === runId);
  if (at < 0) {
    running.get(runId)?.abort(reason);
    return;
  }
  queued.splice(at, 1);
  send({ type: 'failed', runId, error: { name: 'AbortError', message: `The run was stopped (${reason}) before it started` } });
}

async function run(mod: TaskModule, message: RunMessage): Promise<void> {
  const { runId } = message;
  const abortion = new LazySignal();
  running.set(runId, abortion);
  try {
    const outcome = await runTask(mod.tasks.get(message.task), message.task, message.input, {
      jobId: message.jobId,
      attempt: message.attempt,
      get signal() {
        return abortion.signal;
      },
      // At once: a handler busy on the CPU reports progress while it works.
      progress: (value) => sendNow({ type: 'progress', runId, value }),
      get: <T>(ref: Ref<T>) => objects.get(ref) as Promise<T>,
      putBytes: (bytes, kind) => objects.put(bytes, kind, message.jobId),
      inlineMaxBytes: objects.inlineMaxBytes,
    });
    send(outcome.ok ? { type: 'done', runId, output: outcome.result } : { type: 'failed', runId, error: outcome.error });
  } catch (error) {
    send({ type: 'failed', runId, error: serializeError(error) });
  } finally {
    running.delete(runId);
  }
}

async function shutdown(mod: TaskModule): Promise<void> {
  try {
    await (await jobLoop)?.close();
    await mod.teardown?.();
  } finally {
    process.exit(0);
  }
}

function parseSettings(text: string | undefined): SandboxSettings | undefined {
  return text === undefined ? undefined : (JSON.parse(text) as SandboxSettings);
}

void main().catch(die);
