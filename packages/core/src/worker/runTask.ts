import { isChunkData, type ItemOutcome } from '../chunkEnvelope.ts';
import type { AnyTask, TaskContext } from '../defineTask.ts';
import { parseTaskInput, parseTaskOutput } from '../parseTaskIO.ts';
import { serializeError, type FailureReason, type SerializedError } from '../serializeError.ts';
import { Spawn, spawn, spawnedTemplate } from '../workflow/spawn.ts';

/** What the sandbox or executor gives a handler; `spawn` is added here. */
export type RunContext = Omit<TaskContext, 'spawn'>;

/** How one run ended: the (parsed) output, or the structured error with its reason. */
export type RunOutcome = { ok: true; output: unknown } | { ok: false; error: SerializedError };

const REASON = Symbol('reason');

/**
 * Runs a task's handler where it stands (a sandbox process, or the worker itself for `inline` tasks):
 * parses the input, runs, parses the output. A chunk job (`{ $chunk: inputs }`) runs each item on its own
 * and returns `{ $chunk: outcomes }`; the chunk then succeeds even when items failed. A handler that returns
 * `ctx.spawn(workflow)` gives `{ $tpSpawn: template }` (its output is checked when the workflow is done).
 */
export async function runTask(task: AnyTask | undefined, name: string, input: unknown, runContext: RunContext): Promise<RunOutcome> {
  if (!task) {
    return { ok: false, error: { name: 'Error', code: 'UNKNOWN_TASK', reason: 'invalid', message: `Unknown task ${name}` } };
  }
  // Assigned, not spread: a spread would read the context's lazy `signal` getter and create every run's AbortSignal.
  const ctx = Object.assign(runContext, { spawn }) as TaskContext;
  if (!isChunkData(input)) return runOne(task, input, ctx, true);
  const outcomes: ItemOutcome[] = [];
  for (const item of input.$chunk) {
    ctx.signal.throwIfAborted();
    const outcome = await runOne(task, item, ctx, false);
    outcomes.push(outcome.ok ? { ok: true, value: outcome.output } : { ok: false, error: outcome.error });
  }
  return { ok: true, output: { $chunk: outcomes } };
}

async function runOne(task: AnyTask, input: unknown, ctx: TaskContext, maySpawn: boolean): Promise<RunOutcome> {
  try {
    const parsed = failAs('invalid', () => parseTaskInput(task, input));
    const returned: unknown = await task.run(parsed, ctx);
    const spawned = spawnedTemplate(returned);
    if (spawned) {
      if (!maySpawn) throw new TypeError('ctx.spawn() cannot be used by an item of a map chunk');
      return { ok: true, output: new Spawn(spawned).toJSON() };
    }
    return { ok: true, output: failAs('invalid', () => parseTaskOutput(task, returned)) };
  } catch (error) {
    const serialized = serializeError(error);
    serialized.reason = (error as { [REASON]?: FailureReason })[REASON] ?? 'error';
    return { ok: false, error: serialized };
  }
}

function failAs<T>(reason: FailureReason, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw Object.assign(error as object, { [REASON]: reason });
  }
}
