import type { Queue } from 'bullmq';
import type { RedisClient } from '../redisConnection.ts';
import type { SerializedError } from '../serializeError.ts';
import { CANCEL_FIELD, cancelChannel } from '../workerInfo.ts';

/**
 * What `handle.cancel()` did: `removed` a job that had not started (it never runs); `signalled` the worker
 * running it (the job then fails with reason `cancelled`, unless it finishes first: `result()` says which);
 * found it `completed` (its result stays, readable) or `failed` already, and did nothing; or found no such
 * job (`missing`).
 */
export type CancelResult = 'removed' | 'signalled' | 'completed' | 'failed' | 'missing';

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
 */
const FLAG_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 'completed' end
if redis.call('ZSCORE', KEYS[3], ARGV[1]) then return 'failed' end
redis.call('HSET', KEYS[1], ARGV[2], '1')
if redis.call('EXISTS', KEYS[4]) == 1 then return 'active' end
redis.call('SET', KEYS[5], '1', 'EX', ARGV[3])
return 'queued'
`;

/**
 * Cancels a job by the contract of `workerInfo.ts`. The flag, the marker and the state check are one Lua
 * step, so a job cannot finish between the check and the flag. A queued job is then removed with BullMQ's
 * `remove`, which refuses a locked job: one fetched meanwhile is signalled instead. Such a job never runs,
 * let alone completes, because every worker reads the flag of each job it fetches before it runs it (see
 * `worker/cancelBook.ts`); so the remove can only take a job that did not run, and a completed job is never
 * removed nor reported cancelled. A running job gets `PUBLISH cancelChannel(prefix) {"queue","jobId"}`, and
 * its worker also rereads the flag every second, in case the message is lost.
 */
export async function cancelTask(queue: Queue, redis: RedisClient, options: { jobId: string; prefix: string; markerTtlSeconds: number }): Promise<CancelResult> {
  const { jobId, prefix } = options;
  const key = queue.toKey(jobId);
  const keys = [key, queue.toKey('completed'), queue.toKey('failed'), `${key}:lock`, cancelledMarkerKey(key)];
  const found = (await redis.eval(FLAG_SCRIPT, keys.length, ...keys, jobId, CANCEL_FIELD, String(options.markerTtlSeconds))) as string;
  if (found === 'missing' || found === 'completed' || found === 'failed') return found;
  if (found === 'queued' && (await queue.remove(jobId)) === 1) return 'removed';
  await redis.publish(cancelChannel(prefix), JSON.stringify({ queue: queue.name, jobId }));
  return 'signalled';
}
