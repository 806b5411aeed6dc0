/**
 * The entry of a sandbox process: loads the task module, runs `setup()`, then runs one task at a time
 * as its supervisor asks. Input and output are parsed here, so zod's work spreads over every core.
 */
import { loadTaskModule, type TaskModule } from '../loadTaskModule.ts';
import { parseTaskInput, parseTaskOutput } from '../parseTaskIO.ts';
import { serializeError, type FailureReason } from '../serializeError.ts';
import type { FromSandbox, ToSandbox } from './sandboxProtocol.ts';

const send = (message: FromSandbox): void => {
  process.send?.(message);
};

const running = new Map<number, AbortController>();

process.on('uncaughtException', (error) => die(error));
process.on('unhandledRejection', (error) => die(error));
process.on('disconnect', () => process.exit(0));

function die(error: unknown): void {
  send({ type: 'fatal', error: serializeError(error) });
  // Let the IPC message leave before exiting.
  setImmediate(() => process.exit(70));
}

async function main(): Promise<void> {
  const modulePath = process.argv[2];
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
  process.on('message', (message: ToSandbox) => {
    if (message.type === 'run') void run(mod, message);
    else if (message.type === 'abort') running.get(message.runId)?.abort(message.reason);
    else if (message.type === 'shutdown') void shutdown(mod);
  });
  send({ type: 'ready', pid: process.pid });
}

async function run(mod: TaskModule, message: Extract<ToSandbox, { type: 'run' }>): Promise<void> {
  const { runId } = message;
  const controller = new AbortController();
  running.set(runId, controller);
  try {
    const task = mod.tasks.get(message.task);
    if (!task) throw Object.assign(new Error(`Unknown task ${message.task} in ${mod.path}`), { code: 'UNKNOWN_TASK' });
    const input = failAs('invalid', () => parseTaskInput(task, message.input));
    const returned = await task.run(input, {
      jobId: message.jobId,
      attempt: message.attempt,
      signal: controller.signal,
      progress: (value) => send({ type: 'progress', runId, value }),
    });
    const output = failAs('invalid', () => parseTaskOutput(task, returned));
    send({ type: 'done', runId, output });
  } catch (error) {
    const serialized = serializeError(error);
    const reason = (error as { [REASON]?: FailureReason })[REASON];
    if (reason) serialized.reason = reason;
    send({ type: 'failed', runId, error: serialized });
  } finally {
    running.delete(runId);
  }
}

const REASON = Symbol('reason');

function failAs<T>(reason: FailureReason, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw Object.assign(error as object, { [REASON]: reason });
  }
}

async function shutdown(mod: TaskModule): Promise<void> {
  try {
    await mod.teardown?.();
  } finally {
    process.exit(0);
  }
}

void main().catch(die);
