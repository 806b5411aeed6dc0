import type { RedisClient } from './redisConnection.ts';
import type { SerializedError } from './serializeError.ts';

/** The default BullMQ key prefix of taskpool's queues. */
export const DEFAULT_PREFIX = 'taskpool';

/** The field of a BullMQ job hash where the worker keeps the last attempt's structured error. */
export const JOB_ERROR_FIELD = 'tpError';

/** The job-hash field counting the crashes (exit, signal, oom) of a job's attempts, for quarantine; a retry clears it. */
export const CRASH_FIELD = 'tpCrashes';

/** The Redis key of a job's hash (BullMQ's layout: `prefix:queue:id`). */
export function jobKey(prefix: string, queue: string, jobId: string): string {
  return `${prefix}:${queue}:${jobId}`;
}

/** The queue and id of a job from its key (job ids never hold a `:`), as BullMQ names children in a parent's sets. */
export function parseJobKey(prefix: string, key: string): { queue: string; jobId: string } {
  const colon = key.lastIndexOf(':');
  return { queue: key.slice(prefix.length + 1, colon), jobId: key.slice(colon + 1) };
}

/** BullMQ's `failedReason` for a job whose lock lapsed more than `maxStalledCount` times. */
const STALLED_REASON = 'job stalled more than allowable limit';

/** The error of a job BullMQ failed for stalling too often: the process running it died or froze each time. */
export const STALLED_FAILURE: SerializedError = {
  name: 'StalledJobError',
  code: 'STALLED',
  reason: 'stalled',
  message: 'The job stalled more often than BullMQ allows: each time, the worker running it died or stopped renewing its lock',
};

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
