import type { Queue } from 'bullmq';
import type { RedisClient } from '../redisConnection.ts';
import type { SerializedError } from '../serializeError.ts';
import { syncJobCounts } from '../store/taskCounts.ts';
import { CANCEL_FIELD, cancelChannel } from '../workerInfo.ts';

/**
 * What `handle.cancel()` did: `removed` a job that had not started; `signalled` the worker running it (the
 * job then fails with reason `cancelled`, unless it finishes first); found it `finished` already (nothing
 * done); or found no such job (`missing`).
 */
export type CancelResult = 'removed' | 'signalled' | 'finished' | 'missing';

/**
 * The error waiters get for a job cancelled before it ran: the job itself is removed, so a marker key
 * beside it (`<job key>:cancelled`, expiring with the failed-job retention) tells them why it is gone.
 */
export const CANCELLED_BEFORE_START: SerializedError = {
  name: 'CancelledError',
  code: 'CANCELLED',
  reason: 'cancelled',
  message: 'The task was cancelled before it started',
};

/** The marker of a job removed by a cancel. */
export function cancelledMarkerKey(jobKey: string): string {
  return `${jobKey}:cancelled`;
}

/**
 * In one step: nothing for a missing or finished job; else the cancel flag on the job hash (a worker that
 * fetches the job afterwards fails it as cancelled instead of running it), and, unless the job is locked
 * (running), the cancel marker before the job is removed.
 *
 * KEYS: job hash, completed set, failed set, lock, cancel marker. ARGV: job id, flag field, marker TTL (s).
 * Returns the state found and the job's task.
 */
const FLAG_SCRIPT = `
local name = redis.call('HGET', KEYS[1], 'name')
if not name then return {'missing', ''} end
if redis.call('ZSCORE', KEYS[2], ARGV[1]) or redis.call('ZSCORE', KEYS[3], ARGV[1]) then return {'finished', name} end
redis.call('HSET', KEYS[1], ARGV[2], '1')
if redis.call('EXISTS', KEYS[4]) == 1 then return {'active', name} end
redis.call('SET', KEYS[5], '1', 'EX', ARGV[3])
return {'queued', name}
`;

/**
 * Cancels a job by the contract of `workerInfo.ts`. The flag, the marker and the state check are one Lua
 * step, so a job cannot finish between the check and the flag; a queued job is then removed with BullMQ's
 * `remove` (which refuses a locked job: one that started meanwhile is signalled instead, and, having seen
 * the flag, is not run). A running job gets `PUBLISH cancelChannel(prefix) {"queue","jobId"}`.
 */
export async function cancelTask(queue: Queue, redis: RedisClient, options: { jobId: string; prefix: string; markerTtlSeconds: number }): Promise<CancelResult> {
  const { jobId, prefix } = options;
  const key = queue.toKey(jobId);
  const keys = [key, queue.toKey('completed'), queue.toKey('failed'), `${key}:lock`, cancelledMarkerKey(key)];
  const [found, task] = (await redis.eval(FLAG_SCRIPT, keys.length, ...keys, jobId, CANCEL_FIELD, String(options.markerTtlSeconds))) as [string, string];
  if (found === 'missing' || found === 'finished') return found;
  if (found === 'queued' && (await queue.remove(jobId)) === 1) {
    await syncJobCounts(redis, prefix, [{ queue: queue.name, jobId, task }]);
    return 'removed';
  }
  await redis.publish(cancelChannel(prefix), JSON.stringify({ queue: queue.name, jobId }));
  return 'signalled';
}
