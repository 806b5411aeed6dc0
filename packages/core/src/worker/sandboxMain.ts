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

const inThread = !isMainThread && parentPort !== null;

const send = (message: FromSandbox): void => {
  if (inThread) parentPort?.postMessage(message);
  else process.send?.(message);
};

const onMessage = (listener: (message: ToSandbox) => void): void => {
  if (inThread) parentPort?.on('message', listener);
  else process.on('message', listener);
};

const running = new Map<number, LazySignal>();
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
    setImmediate(() => process.exit(78));
    return;
  }
  onMessage((message) => {
    if (message.type === 'run') void run(mod, message);
    else if (message.type === 'object-ready' || message.type === 'object-stored' || message.type === 'object-failed') objects.onReply(message);
    else if (message.type === 'abort') running.get(message.runId)?.abort(message.reason);
    else if (message.type === 'shutdown') void shutdown(mod);
    else if (message.type === 'serve') jobLoop ??= import('./sandboxFetch.ts').then((loop) => loop.serveJobs(mod, message.config, send, taskObjects));
    else if (message.type === 'abort-job') void jobLoop?.then((loop) => loop.abort(message.jobId, message.reason));
    else if (message.type === 'drain') void (jobLoop ?? Promise.resolve(undefined)).then((loop) => loop?.drain()).then(() => send({ type: 'drained' }));
  });
  send({ type: 'ready', pid: process.pid });
}

async function run(mod: TaskModule, message: Extract<ToSandbox, { type: 'run' }>): Promise<void> {
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
      progress: (value) => send({ type: 'progress', runId, value }),
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
