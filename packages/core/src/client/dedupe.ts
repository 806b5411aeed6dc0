import type { DeduplicationOptions } from 'bullmq';
import type { TaskContract } from '../taskContract.ts';
import { ValidationError } from '../errors.ts';
import { decodeValue, type EncodedValue } from '../valueCodec.ts';

/** A submit's own deduplication (`SubmitOptions.dedupe`): its key, and the window when the task declares none. */
export interface DedupeOverride {
  /** The key; submits of one task with one key inside the window share the first one's job. A non-empty string. */
  key: string;
  /** How long after the first submit the later ones return its job, ms. Default: the task's `dedupe.ttlMs`, else {@link DEFAULT_DEDUPE_TTL_MS}. */
  ttlMs?: number;
}

/** The window of a submit's `dedupe` key when its task declares no `dedupe`: one minute. */
export const DEFAULT_DEDUPE_TTL_MS = 60_000;

/**
 * The BullMQ deduplication option of a submit: the submit's own `dedupe` (`false`: none), else the task's
 * declared one, its key computed from the input as the task's schema parses it. The id is `<task>:<key>`, so
 * two tasks of one queue never share a key. Throws {@link ValidationError} `INVALID_INPUT` when the key is not a
 * non-empty string.
 */
export function deduplicationOf(task: TaskContract, input: EncodedValue, override: DedupeOverride | false | undefined): DeduplicationOptions | undefined {
  if (override === false) return undefined;
  const declared = task.defaults.dedupe;
  if (!override && !declared) return undefined;
  const key = override ? override.key : declared!.key(task.input.parse(decodeValue(input)));
  if (typeof key !== 'string' || key === '') {
    throw new ValidationError('INVALID_INPUT', task.name, [{ path: [], message: `The dedupe key must be a non-empty string, not ${JSON.stringify(key)}`, code: 'invalid_dedupe_key' }]);
  }
  const ttl = override?.ttlMs ?? declared?.ttlMs ?? DEFAULT_DEDUPE_TTL_MS;
  if (!Number.isInteger(ttl) || ttl <= 0) throw new TypeError(`dedupe.ttlMs must be a positive integer of ms, not ${String(ttl)}`);
  return { id: `${task.name}:${key}`, ttl };
}
