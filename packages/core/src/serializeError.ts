/** JSON-safe values, as kept in Redis. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Why an attempt failed, as the worker classified it. */
export type FailureReason =
  | 'error'
  | 'invalid'
  | 'exit'
  | 'signal'
  /** The sandbox got a SIGKILL the worker did not send (the kernel's OOM killer, an operator). */
  | 'killed'
  | 'oom'
  | 'timeout'
  | 'stalled'
  | 'cancelled'
  | 'quarantined';

/** An error as it crosses a process boundary: everything a caller needs to rebuild it. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  /** The worker's classification of the failure. */
  reason?: FailureReason;
  cause?: SerializedError;
  /** The error's own enumerable, JSON-safe fields (e.g. `retryAfter`, `issues`). */
  fields?: Record<string, JsonValue>;
}

const MAX_CAUSE_DEPTH = 8;
const SKIPPED = new Set(['name', 'message', 'stack', 'code', 'cause']);

/** Turns anything thrown into a {@link SerializedError}, keeping the stack, code, cause chain and own fields. */
export function serializeError(thrown: unknown, depth = 0): SerializedError {
  if (!(thrown instanceof Error)) {
    return { name: 'NonErrorThrown', message: describe(thrown) };
  }
  const out: SerializedError = { name: thrown.name, message: thrown.message };
  if (thrown.stack) out.stack = thrown.stack;
  const code = (thrown as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') out.code = String(code);
  if (thrown.cause !== undefined && depth < MAX_CAUSE_DEPTH) out.cause = serializeError(thrown.cause, depth + 1);
  const fields: Record<string, JsonValue> = {};
  for (const key of Object.keys(thrown)) {
    if (SKIPPED.has(key)) continue;
    const safe = toJson((thrown as unknown as Record<string, unknown>)[key]);
    if (safe !== undefined) fields[key] = safe;
  }
  if (Object.keys(fields).length > 0) out.fields = fields;
  return out;
}

function toJson(value: unknown): JsonValue | undefined {
  try {
    const text = JSON.stringify(value);
    return text === undefined ? undefined : (JSON.parse(text) as JsonValue);
  } catch {
    return undefined;
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
