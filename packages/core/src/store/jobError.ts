import type { RedisClient } from '../redisConnection.ts';
import type { SerializedError } from '../serializeError.ts';
import { CANCEL_FIELD, CANCELLED_REASON, CRASHES_FIELD, DEFERRED_FAILURE_FIELD, JOB_ERROR_FIELD, STALLED_REASON } from './jobFields.ts';

const STALLED_WHY =
  'each time, the worker running it died, was cut off from Redis or stopped renewing its lock, ' +
  'so the handler may have run (in part or to the end) without its result being recorded';

/**
 * The error of a job failed for stalling too often: each time, the worker running it died, was cut off from
 * Redis or froze, so its lock lapsed and the job went back to waiting. Nobody knows how far the handler got:
 * it may have run, in part or to the end. {@link stalledFailure} adds the count.
 */
export const STALLED_FAILURE: SerializedError = {
  name: 'StalledJobError',
  code: 'STALLED',
  reason: 'stalled',
  message: `The job stalled too often: ${STALLED_WHY}`,
};

/** {@link STALLED_FAILURE} of a job that stalled `stalls` times, with the count in its message and `fields`. */
export function stalledFailure(stalls: number): SerializedError {
  return { ...STALLED_FAILURE, message: `The job stalled ${stalls} times: ${STALLED_WHY}`, fields: { stalls } };
}

/** True for BullMQ's own failure of a job that stalled too often (its `failedReason`, or `deferredFailure` while it is failed). */
export function isStalledReason(failedReason: string | undefined | null): boolean {
  return failedReason === STALLED_REASON;
}

/**
 * The structured error of a failed job that has no `tpError`, from BullMQ's `failedReason`: the failures that
 * BullMQ makes itself and the worker's processor never sees. The stalled limit becomes {@link STALLED_FAILURE}
 * (reason `stalled`); any other text a plain `Error`.
 */
export function failureFromReason(failedReason: string, stack?: string): SerializedError {
  if (isStalledReason(failedReason)) return STALLED_FAILURE;
  if (isCancelledReason(failedReason)) return CANCELLED_BEFORE_START;
  return { name: 'Error', message: failedReason, ...(stack !== undefined && { stack }) };
}

/** Keeps a failed attempt's structured error beside the job (BullMQ keeps only message and stack). */
export async function writeJobError(redis: RedisClient, key: string, error: SerializedError): Promise<void> {
  await redis.hset(key, JOB_ERROR_FIELD, JSON.stringify(error));
}

/** Reads the structured error the worker kept for a job, if any. */
export async function readJobError(redis: RedisClient, key: string): Promise<SerializedError | undefined> {
  return storedFailure(await redis.hget(key, JOB_ERROR_FIELD), undefined);
}

/**
 * The error a failed job carries, from its hash's fields: the worker's structured error (`tpError`) if it
 * wrote one, else one made from BullMQ's `failedReason` (see {@link failureFromReason}), else none.
 */
export function storedFailure(tpError: string | null | undefined, failedReason: string | null | undefined, stack?: string): SerializedError | undefined {
  if (tpError) return JSON.parse(tpError) as SerializedError;
  return failedReason ? failureFromReason(failedReason, stack) : undefined;
}

/** True for the deferred failure a cancel sets on a job not running (see `flagCancel.ts`). */
export function isCancelledReason(failedReason: string | undefined | null): boolean {
  return failedReason === CANCELLED_REASON;
}

/** Clears a job's last error and cancel (before a retry: the new run must neither show nor obey them). */
export async function clearJobFailure(redis: RedisClient, key: string): Promise<void> {
  await redis.hdel(key, JOB_ERROR_FIELD, CRASHES_FIELD, CANCEL_FIELD, DEFERRED_FAILURE_FIELD);
}

/**
 * The error waiters get for a job cancelled before it ran: the job itself is removed, so a marker key
 * beside it (`cancelledMarkerKey`, expiring with the failed-job retention) tells them why it is gone.
 */
export const CANCELLED_BEFORE_START: SerializedError = {
  name: 'CancelledError',
  code: 'CANCELLED',
  reason: 'cancelled',
  message: CANCELLED_REASON,
};

/** Counts one more crash (exit, signal, killed, oom) of the job's attempts; gives the count, for quarantine. */
export async function countCrash(redis: RedisClient, key: string): Promise<number> {
  return redis.hincrby(key, CRASHES_FIELD, 1);
}
