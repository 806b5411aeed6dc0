import { PayloadTooLargeError } from '../errors.ts';
import type { JsonValue } from '../serializeError.ts';
import type { Ref } from '../objects/objectRef.ts';
import { decodeValue, type EncodedValue, type ValueMeta } from '../valueCodec.ts';

/**
 * The data of every job taskpool writes: a fixed envelope, so that nothing a user sends is ever read as
 * control. What the job is (`kind`) and how a workflow step runs (`wf`) sit beside the user's input, never
 * inside it: the input is opaque data, read only by the task's schema in the sandbox.
 * - a task's job: `{ v: 1, input, meta? }`;
 * - a `map` chunk: `{ v: 1, kind: 'chunk', text, meta? }`: its items encoded as one array, carried as that
 *   array's JSON text (see {@link ChunkJobData}); a chunk written by taskpool 0.1.x before this carries
 *   `input: [items]` and is still read;
 * - a workflow step: `{ v: 1, kind: 'step', wf, input?, meta? }` (see `workflow/stepTemplate.ts`).
 * `input` and `meta` are an {@link EncodedValue}: the input's JSON, and superjson's meta where it holds a `Date`...
 * An input too big to travel in the job (the claim check, `objects/claimCheck.ts`) is stored as an object, and
 * the envelope carries `inputRef` (a reference to its encoded value) instead of `input`: a task's job
 * `{ v: 1, inputRef }`, a step `{ v: 1, kind: 'step', wf, inputRef }`.
 */
export type JobData<StepMeta = unknown> = TaskJobData | ChunkJobData | StepJobData<StepMeta>;

/** The version of the envelope; data without it is from taskpool 0.1 and is not run (see CHANGELOG). */
export const JOB_DATA_VERSION = 1;

interface Envelope {
  v: typeof JOB_DATA_VERSION;
  input?: JsonValue;
  meta?: ValueMeta;
  /** The input, stored as an object (its encoded value) when it was too big to carry. */
  inputRef?: Ref;
}

/** A task's job: its input, or a reference to it. */
export interface TaskJobData extends Envelope {
  kind?: undefined;
}

/**
 * A `map` chunk: its items, in order, as one encoded array whose JSON is carried as text. The worker's
 * supervising process never looks inside a chunk: BullMQ parses the envelope (one string, not thousands of
 * objects), the text crosses to the sandbox as it is, and only the sandbox parses it (`runTask.ts`). Its
 * outcomes come back as text the same way (`JobOutput.outputText`). Measured on a chunk of 8,192 small items:
 * the supervisor's JSON work per chunk falls from ~3.7 ms to ~1.3 ms, and its garbage with it.
 */
export interface ChunkJobData extends Envelope {
  kind: 'chunk';
  /** The JSON text of the encoded array of items (absent in a chunk of taskpool 0.1.x, which has `input`). */
  text?: string;
}

/** An encoded value carried as its JSON text: a chunk's items, or its outcomes. */
export interface EncodedText {
  text: string;
  meta?: ValueMeta;
}

/** A workflow step: how it runs, and its input when it was given one. */
export interface StepJobData<StepMeta = unknown> extends Envelope {
  kind: 'step';
  wf: StepMeta;
}

/** An encoded value carried by reference: the reference to an object holding the {@link EncodedValue}. */
export interface RefCarried {
  ref: Ref;
}

/** The data of a task's job: its input, or the reference to it (the claim check). */
export function taskJobData(input: EncodedValue | RefCarried): TaskJobData {
  if ('ref' in input) return { v: JOB_DATA_VERSION, inputRef: input.ref };
  return { v: JOB_DATA_VERSION, input: input.json, ...(input.meta && { meta: input.meta }) };
}

/** The data of a chunk job: `items` is the encoded array of the chunk's inputs. */
export function chunkJobData(items: EncodedValue): ChunkJobData {
  return { v: JOB_DATA_VERSION, kind: 'chunk', text: JSON.stringify(items.json), ...(items.meta && { meta: items.meta }) };
}

/** The data of a workflow step. */
export function stepJobData<StepMeta>(wf: StepMeta, input?: EncodedValue | RefCarried): StepJobData<StepMeta> {
  if (input && 'ref' in input) return { v: JOB_DATA_VERSION, kind: 'step', wf, inputRef: input.ref };
  return { v: JOB_DATA_VERSION, kind: 'step', wf, ...(input && { input: input.json }), ...(input?.meta && { meta: input.meta }) };
}

/** A job's data as the envelope it must be, or undefined (not ours, or taskpool 0.1's raw input). */
export function readJobData(data: unknown): JobData | undefined {
  if (typeof data !== 'object' || data === null || (data as Envelope).v !== JOB_DATA_VERSION) return undefined;
  const { kind } = data as { kind?: unknown };
  if (kind === undefined) return 'input' in data || 'inputRef' in data ? (data as TaskJobData) : undefined;
  if (kind === 'chunk') return 'input' in data || typeof (data as ChunkJobData).text === 'string' ? (data as ChunkJobData) : undefined;
  if (kind === 'step') {
    const { wf } = data as { wf?: unknown };
    return typeof wf === 'object' && wf !== null && !Array.isArray(wf) ? (data as StepJobData) : undefined;
  }
  return undefined;
}

/**
 * The encoded input an envelope carries, if any (a chunk's text parsed: for reading a job, not for running
 * it). An input carried by reference gives the reference, encoded: what a reader of the job is shown.
 */
export function encodedInput(data: JobData): EncodedValue | undefined {
  if (data.inputRef) return { json: data.inputRef as unknown as JsonValue };
  const text = carriedText(data);
  const json = text !== undefined ? (JSON.parse(text) as JsonValue) : data.input;
  if (json === undefined) return undefined;
  return data.meta ? { json, meta: data.meta } : { json };
}

/** The input an envelope carries as it goes to the sandbox: a chunk's text unparsed, a reference as it is. */
export function carriedInput(data: JobData): EncodedValue | EncodedText | RefCarried | undefined {
  if (data.inputRef) return { ref: data.inputRef };
  const text = carriedText(data);
  if (text === undefined) return encodedInput(data);
  return data.meta ? { text, meta: data.meta } : { text };
}

/** An encoded value carried as text, parsed (a value that is not text is given back as it is). */
export function parseCarried(value: EncodedValue | EncodedText): EncodedValue {
  if (!('text' in value)) return value;
  const json = JSON.parse(value.text) as JsonValue;
  return value.meta ? { json, meta: value.meta } : { json };
}

function carriedText(data: JobData): string | undefined {
  return data.kind === 'chunk' ? data.text : undefined;
}

/** The input a job was submitted with, decoded (undefined for a step given none, or data that is not ours). */
export function jobInputOf(data: unknown): unknown {
  const envelope = readJobData(data);
  if (!envelope) return data;
  const input = encodedInput(envelope);
  return input ? decodeValue(input) : undefined;
}

/**
 * A job's return value, as the worker gives it to BullMQ: the output, encoded, and beside it (control data,
 * never inside the user's output) how long the run took in the worker.
 */
export interface JobOutput {
  v: typeof JOB_DATA_VERSION;
  /** The encoded output; a chunk's outcomes are carried as text instead (`outputText`, see {@link ChunkJobData}). */
  output?: JsonValue;
  outputText?: string;
  /** The output, stored as an object (its encoded value) when it was too big to carry (the claim check). */
  outputRef?: Ref;
  meta?: ValueMeta;
  /** The run's time in the worker, ms (decode, parse, handler, parse, encode; for a chunk, all its items): what `map`'s `chunkSize: 'auto'` reads. */
  runMs?: number;
}

/** The return value of a job whose output is `value` (and whose run took `runMs`, when known). */
export function jobOutput(value: EncodedValue | EncodedText | RefCarried, runMs?: number): JobOutput {
  if ('ref' in value) return { v: JOB_DATA_VERSION, outputRef: value.ref, ...(runMs !== undefined && { runMs }) };
  const output = 'text' in value ? { outputText: value.text } : { output: value.json };
  return { v: JOB_DATA_VERSION, ...output, ...(value.meta && { meta: value.meta }), ...(runMs !== undefined && { runMs }) };
}

/** The run time a stored return value carries (see {@link JobOutput.runMs}), if it is one of ours and has it. */
export function jobRunMs(stored: unknown): number | undefined {
  if (typeof stored !== 'object' || stored === null || (stored as JobOutput).v !== JOB_DATA_VERSION) return undefined;
  const { runMs } = stored as JobOutput;
  return typeof runMs === 'number' && Number.isFinite(runMs) && runMs >= 0 ? runMs : undefined;
}

/** The reference a stored return value carries instead of its output (the claim check), if any. */
export function outputRefOf(stored: unknown): Ref | undefined {
  if (typeof stored !== 'object' || stored === null || (stored as JobOutput).v !== JOB_DATA_VERSION) return undefined;
  return (stored as JobOutput).outputRef;
}

/**
 * The output a job's stored return value holds, decoded; a value stored by taskpool 0.1 is given as it is. An
 * output carried by reference is read with `get` (see {@link outputRefOf}); without it, the reference is given.
 */
export async function resolveJobOutput(stored: unknown, get: (ref: Ref) => Promise<unknown>): Promise<unknown> {
  const ref = outputRefOf(stored);
  return ref ? get(ref) : readJobOutput(stored);
}

/** The output a job's stored return value holds, decoded; a value stored by taskpool 0.1 is given as it is (a reference to the output, as it is). */
export function readJobOutput(stored: unknown): unknown {
  const ref = outputRefOf(stored);
  if (ref) return ref;
  const encoded = encodedOutput(stored);
  return encoded ? decodeValue(encoded) : stored;
}

/** The encoded output of a stored return value, if it is one of ours. */
export function encodedOutput(stored: unknown): EncodedValue | undefined {
  if (typeof stored !== 'object' || stored === null || (stored as JobOutput).v !== JOB_DATA_VERSION) return undefined;
  const { output, outputText, meta } = stored as JobOutput;
  let json: JsonValue;
  if (typeof outputText === 'string') json = JSON.parse(outputText) as JsonValue;
  else if ('output' in stored) json = output as JsonValue;
  else return undefined;
  return meta ? { json, meta } : { json };
}

/** The most one job's data may take in Redis unless a client or admin says otherwise: 1 MiB, the producer's body limit. */
export const DEFAULT_MAX_JOB_BYTES = 1_048_576;

/** Throws {@link PayloadTooLargeError} if `data`, as stored, takes more than `limitBytes`. */
export function assertJobSize(what: string, data: unknown, limitBytes: number): void {
  const text = JSON.stringify(data);
  // A string's UTF-8 size is at most 3 bytes per UTF-16 unit: measure only what may be over.
  if (text.length * 3 <= limitBytes) return;
  const bytes = Buffer.byteLength(text);
  if (bytes > limitBytes) throw new PayloadTooLargeError(what, bytes, limitBytes);
}
