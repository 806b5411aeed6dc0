import type { AnyTask, TaskContext } from '../defineTask.ts';
import type { ItemOutcome } from '../itemOutcome.ts';
import { parseTaskInput, parseTaskOutput } from '../parseTaskIO.ts';
import { serializeError, type FailureReason, type SerializedError } from '../serializeError.ts';
import { parseCarried, type EncodedText, type RefCarried } from '../store/jobData.ts';
import { oversizeBytes } from '../objects/claimCheck.ts';
import { encodeObject, type ObjectKind, type Ref } from '../objects/objectRef.ts';
import { decodeValue, encodeValue, type EncodedValue } from '../valueCodec.ts';
import { spawn, spawnedTemplate } from '../workflow/spawn.ts';
import type { StepTemplate } from '../workflow/stepTemplate.ts';

/** What the sandbox or executor gives a handler; `spawn` and `put` are added here. */
export type RunContext = Omit<TaskContext, 'spawn' | 'put'> & {
  /** Stores encoded bytes as an object owned by the job (`ctx.put`, and the claim check of a big output). */
  putBytes(bytes: Buffer, kind: ObjectKind): Promise<Ref>;
  /** Outputs whose encoded JSON takes more bytes than this go by reference (the claim check). */
  readonly inlineMaxBytes: number;
};

/**
 * What one run is given: the job's encoded input (a chunk's as its JSON text, parsed only here), and whether
 * it is a `map` chunk (an encoded array of inputs).
 */
export interface RunInput {
  value: EncodedValue | EncodedText | RefCarried;
  chunk?: boolean;
}

/**
 * What a run gives back: the parsed output, encoded (for a chunk, its items' outcomes), with the run's time in
 * ms (decode to encode: what `map`'s automatic chunk size reads), or the workflow a handler spawned.
 */
export type RunResult = { output: EncodedValue | EncodedText | RefCarried; runMs?: number } | { spawn: StepTemplate };

/** How one run ended. */
export type RunOutcome = { ok: true; result: RunResult } | { ok: false; error: SerializedError };

type OneOutcome = { ok: true; value: unknown } | { ok: true; spawn: StepTemplate } | { ok: false; error: SerializedError };

const REASON = Symbol('reason');

/**
 * Runs a task's handler where it stands (a sandbox process, or the worker itself for `inline` tasks):
 * decodes and parses the input, runs, parses the output and encodes it. A chunk runs each item on its own
 * and gives their outcomes; the chunk then succeeds even when items failed. A handler that returns
 * `ctx.spawn(workflow)` gives the workflow (its output is checked when the workflow is done). What the job
 * is comes from `input.chunk`, set by the worker from the job's envelope, never from the user's input.
 */
export async function runTask(task: AnyTask | undefined, name: string, input: RunInput, runContext: RunContext): Promise<RunOutcome> {
  if (!task) {
    return { ok: false, error: { name: 'Error', code: 'UNKNOWN_TASK', reason: 'invalid', message: `Unknown task ${name}` } };
  }
  // Assigned, not spread: a spread would read the context's lazy `signal` getter and create every run's AbortSignal.
  const ctx = Object.assign(runContext, { spawn, put: (value: unknown) => putValue(runContext, value) }) as unknown as TaskContext;
  const started = performance.now();
  let value: unknown;
  try {
    const carried = input.value;
    // An input too big to carry was stored as an object (the claim check): read once per machine, hash checked.
    value = 'ref' in carried ? await failAsMissing(runContext.get(carried.ref)) : failAs('invalid', () => decodeValue(parseCarried(carried)));
  } catch (error) {
    return failure(error);
  }
  if (!input.chunk) {
    const outcome = await runOne(task, value, ctx, true);
    if (!outcome.ok) return outcome;
    if ('spawn' in outcome) return { ok: true, result: { spawn: outcome.spawn } };
    return encodedOutput(outcome.value, started, runContext);
  }
  if (!Array.isArray(value)) {
    return { ok: false, error: { name: 'TypeError', code: 'INVALID_INPUT', reason: 'invalid', message: 'A chunk job carries no array of inputs' } };
  }
  const outcomes: ItemOutcome[] = [];
  for (const item of value) {
    ctx.signal.throwIfAborted();
    const outcome = await runOne(task, item, ctx, false);
    outcomes.push('value' in outcome ? { ok: true, value: outcome.value } : (outcome as ItemOutcome));
  }
  return encoded(outcomes, started, true);
}

async function runOne(task: AnyTask, input: unknown, ctx: TaskContext, maySpawn: boolean): Promise<OneOutcome> {
  try {
    const parsed = failAs('invalid', () => parseTaskInput(task, input));
    const returned: unknown = await task.run(parsed, ctx);
    const spawned = spawnedTemplate(returned);
    if (spawned) {
      if (!maySpawn) throw new TypeError('ctx.spawn() cannot be used by an item of a map chunk');
      return { ok: true, spawn: spawned };
    }
    return { ok: true, value: failAs('invalid', () => parseTaskOutput(task, returned)) };
  } catch (error) {
    return failure(error);
  }
}

/** A job's output encoded; stored as an object when its JSON takes more than `inlineMaxBytes` (the claim check). */
async function encodedOutput(value: unknown, started: number, runContext: RunContext): Promise<RunOutcome> {
  const outcome = encoded(value, started, false);
  if (!outcome.ok || !('output' in outcome.result)) return outcome;
  const { output, runMs } = outcome.result;
  const big = oversizeBytes(output as EncodedValue, runContext.inlineMaxBytes);
  if (!big) return outcome;
  try {
    return { ok: true, result: { output: { ref: await runContext.putBytes(big, 'value') }, ...(runMs !== undefined && { runMs }) } };
  } catch (error) {
    return failure(error);
  }
}

/** `ctx.put(value)`: the value's bytes stored as an object owned by the job. */
async function putValue(runContext: RunContext, value: unknown): Promise<Ref> {
  const { bytes, kind } = encodeObject(value);
  return runContext.putBytes(bytes, kind);
}

/** The value an input reference names; a missing object is final (`invalid`: it will not come back by retrying). */
async function failAsMissing<T>(read: Promise<T>): Promise<T> {
  try {
    return await read;
  } catch (error) {
    if ((error as { code?: unknown }).code === 'OBJECT_NOT_FOUND') throw Object.assign(error as object, { [REASON]: 'invalid' as FailureReason });
    throw error;
  }
}

/** The output encoded; a chunk's outcomes as text (see `ChunkJobData`), which the supervisor passes on unparsed. */
function encoded(value: unknown, started: number, asText: boolean): RunOutcome {
  try {
    const { json, meta } = failAs('invalid', () => encodeValue(value));
    const output = asText ? { text: JSON.stringify(json), ...(meta && { meta }) } : { json, ...(meta && { meta }) };
    return { ok: true, result: { output, runMs: Math.round((performance.now() - started) * 1000) / 1000 } };
  } catch (error) {
    return failure(error);
  }
}

function failure(error: unknown): { ok: false; error: SerializedError } {
  const serialized = serializeError(error);
  serialized.reason = (error as { [REASON]?: FailureReason })[REASON] ?? 'error';
  return { ok: false, error: serialized };
}

function failAs<T>(reason: FailureReason, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw Object.assign(error as object, { [REASON]: reason });
  }
}
