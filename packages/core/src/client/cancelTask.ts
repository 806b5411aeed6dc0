import type { Queue } from 'bullmq';
import type { RedisClient } from '../redisConnection.ts';
import { flagCancel } from '../store/flagCancel.ts';
import { syncJobCounts } from '../store/taskCounts.ts';
import { publishCancels } from '../store/cancelFlags.ts';
import { jobKey } from '../store/jobKeys.ts';

/**
 * What `handle.cancel()` did: `removed` a job that had not started (it never runs); `signalled` the worker
 * running it (the job then fails with reason `cancelled`, unless it finishes first: `result()` says which);
 * found it `completed` (its result stays, readable) or `failed` already, and did nothing; or found no such
 * job (`missing`).
 */
export type CancelResult = 'removed' | 'signalled' | 'completed' | 'failed' | 'missing';

/**
 * Cancels a job. The flag, the marker, BullMQ's deferred failure and the state check are one Lua step
 * (`store/flagCancel.ts`), so a job cannot finish between the check and the flag. A queued job is then removed
 * with BullMQ's `remove`, which refuses a locked job: one fetched meanwhile is signalled instead. Such a job
 * never runs, let alone completes: BullMQ reads its deferred failure with the fetch and fails it as cancelled
 * without calling the worker's processor; so the remove can only take a job that did not run, and a completed
 * job is never removed nor reported cancelled. A running job gets `PUBLISH cancelChannel(prefix)
 * {"queue","jobId"}`, and its worker also rereads the flag every second, in case the message is lost.
 */
export async function cancelTask(queue: Queue, redis: RedisClient, options: { jobId: string; prefix: string; markerTtlSeconds: number }): Promise<CancelResult> {
  const { jobId, prefix } = options;
  const { found, task } = await flagCancel(redis, { prefix, queue: queue.name, jobId, markerTtlSeconds: options.markerTtlSeconds });
  if (found === 'missing' || found === 'completed' || found === 'failed') return found;
  if (found === 'queued' && (await queue.remove(jobId)) === 1) {
    await syncJobCounts(redis, prefix, [{ queue: queue.name, jobId, task }]);
    return 'removed';
  }
  await publishCancels(redis, prefix, [jobKey(prefix, queue.name, jobId)]);
  return 'signalled';
}
