import type { Queue } from 'bullmq';
import type { RedisClient } from '../redisConnection.ts';
import { flagCancel } from '../store/flagCancel.ts';
import { syncJobCounts } from '../store/taskCounts.ts';
import { cancelChannel } from '../store/taskpoolKeys.ts';

/**
 * What `handle.cancel()` did: `removed` a job that had not started; `signalled` the worker running it (the
 * job then fails with reason `cancelled`, unless it finishes first); found it `finished` already (nothing
 * done); or found no such job (`missing`).
 */
export type CancelResult = 'removed' | 'signalled' | 'finished' | 'missing';

/**
 * Cancels a job. The flag, the marker and the state check are one Lua step (`store/flagCancel.ts`), so a job
 * cannot finish between the check and the flag; a queued job is then removed with BullMQ's `remove` (which
 * refuses a locked job: one that started meanwhile is signalled instead, and, having seen the flag, is not
 * run). A running job gets `PUBLISH cancelChannel(prefix) {"queue","jobId"}`.
 */
export async function cancelTask(queue: Queue, redis: RedisClient, options: { jobId: string; prefix: string; markerTtlSeconds: number }): Promise<CancelResult> {
  const { jobId, prefix } = options;
  const { found, task } = await flagCancel(redis, { prefix, queue: queue.name, jobId, markerTtlSeconds: options.markerTtlSeconds });
  if (found === 'missing' || found === 'finished') return found;
  if (found === 'queued' && (await queue.remove(jobId)) === 1) {
    await syncJobCounts(redis, prefix, [{ queue: queue.name, jobId, task }]);
    return 'removed';
  }
  await redis.publish(cancelChannel(prefix), JSON.stringify({ queue: queue.name, jobId }));
  return 'signalled';
}
