import type { Job, Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { RedisClient } from '../redisConnection.ts';
import { syncJobCounts, syncJobCountsById } from '../store/taskCounts.ts';

/**
 * Keeps the per-task counts (`store/taskCounts.ts`) as a BullMQ worker moves jobs: when it starts one
 * (`active`), records an outcome (`completed`, `failed`: retried or for good, the job's state decides), and when
 * its stalled check puts a job back to waiting (`stalled`, by id: the task is read first). A failed count is
 * logged and left to the next move of the job or to the readers' repair.
 */
export function countJobMoves(worker: Worker, ctx: { redis: RedisClient; prefix: string; logger: Logger }): void {
  const { redis, prefix, logger } = ctx;
  const sync = (job: Job | undefined): void => {
    if (!job?.id) return;
    syncJobCounts(redis, prefix, [{ queue: job.queueName, jobId: job.id, task: job.name }]).catch((err: unknown) =>
      logger.warn({ event: 'worker:count-failed', err, jobId: job.id }, 'Could not update the per-task counts'),
    );
  };
  worker.on('active', sync);
  worker.on('completed', sync);
  worker.on('failed', sync);
  worker.on('stalled', (jobId) => {
    syncJobCountsById(redis, prefix, worker.name, jobId).catch((err: unknown) => logger.warn({ event: 'worker:count-failed', err, jobId }, 'Could not update the per-task counts'));
  });
}
