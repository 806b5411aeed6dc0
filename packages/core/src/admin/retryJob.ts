import type { Queue } from 'bullmq';
import type { RedisClient } from '../redisConnection.ts';
import { clearJobFailure } from '../store/jobError.ts';
import { failedJobIdsOfTask } from '../store/searchJobs.ts';
import { syncJobCounts } from '../store/taskCounts.ts';
import { JobConflictError } from './jobConflictError.ts';

/**
 * Puts a failed job back to waiting with its full attempt budget (a fix was deployed: the job deserves
 * every attempt again, as Sidekiq's "retry now"). Its last error, its crash count and any cancel flag are
 * cleared first, so the old error is not shown, a job quarantined for crashing gets its full crash budget
 * again, and the worker does not cancel the new run.
 *
 * @throws JobConflictError when the job exists but has not failed.
 * @returns false when the queue holds no such job.
 */
export async function retryJob(queue: Queue, redis: RedisClient, jobId: string): Promise<boolean> {
  const state = await queue.getJobState(jobId);
  if (state === 'unknown') return false;
  if (state !== 'failed') throw notFailed(jobId, state);
  const job = await queue.getJob(jobId);
  if (!job) return false;
  await clearJobFailure(redis, queue.toKey(jobId));
  try {
    await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
  } catch (error) {
    // Another caller retried (or removed) it between the state check and here.
    const now = await queue.getJobState(jobId);
    if (now === 'unknown') return false;
    throw notFailed(jobId, now, error);
  }
  await syncJobCounts(redis, queue.opts.prefix ?? 'bull', [{ queue: queue.name, jobId, task: job.name }]);
  return true;
}

/**
 * Retries every failed job of one task (BullMQ's `retryJobs` would retry every task of the queue).
 * Jobs that stop being failed meanwhile are skipped.
 *
 * @returns How many jobs were put back to waiting.
 */
export async function retryFailedJobs(queue: Queue, redis: RedisClient, task: string): Promise<number> {
  // Collected first: each retry removes its job from the failed set, which would shift a paged scan.
  const ids = await failedJobIdsOfTask(queue, redis, task);
  let retried = 0;
  for (const id of ids) {
    try {
      if (await retryJob(queue, redis, id)) retried++;
    } catch (error) {
      if (!(error instanceof JobConflictError)) throw error;
    }
  }
  return retried;
}

function notFailed(jobId: string, state: string, cause?: unknown): JobConflictError {
  const message = `Job ${jobId} is ${state}, not failed: only a failed job can be retried`;
  return new JobConflictError(jobId, state, message, cause === undefined ? undefined : { cause });
}
