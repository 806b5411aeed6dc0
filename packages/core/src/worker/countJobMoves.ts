import type { Job, Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { RedisClient } from '../redisConnection.ts';
import { syncJobCounts, syncJobCountsById } from '../store/taskCounts.ts';
import { CompletedCountBatcher } from './completedCountBatcher.ts';

/**
 * A started job is counted as active once it has run this long, ms: a shorter job moves from queued to its outcome
 * in one count-script call instead of two (the active count misses jobs shorter than this).
 */
export const ACTIVE_COUNT_AFTER_MS = 100;

/** Options of {@link countJobMoves}. */
export interface CountJobMovesOptions {
  redis: RedisClient;
  prefix: string;
  logger: Logger;
  /**
   * Count a started job as active only once it has run this long, ms (a job done sooner moves from queued to its
   * outcome in one call: one script call less per short job, and the active count skips jobs shorter than
   * this). Default: {@link ACTIVE_COUNT_AFTER_MS}; 0: at once.
   */
  activeAfterMs?: number;
}

/** What {@link countJobMoves} gives back. */
export interface CountedMoves {
  /** Sends the completions still waiting to be counted (see `CompletedCountBatcher`); call it after the worker closed. */
  flush(): Promise<void>;
}

/**
 * Keeps the per-task counts (`store/taskCounts.ts`) as a BullMQ worker moves jobs: when it starts one
 * (`active`), records an outcome (`completed`, `failed`: retried or for good, the job's state decides), and when
 * its stalled check puts a job back to waiting (`stalled`, by id: the task is read first). A failed count is
 * logged and left to the next move of the job or to the readers' repair.
 */
export function countJobMoves(worker: Worker, options: CountJobMovesOptions): CountedMoves {
  const { redis, prefix, logger, activeAfterMs = ACTIVE_COUNT_AFTER_MS } = options;
  const sync = (job: Job | undefined): void => {
    if (!job?.id) return;
    syncJobCounts(redis, prefix, [{ queue: job.queueName, jobId: job.id, task: job.name }]).catch((err: unknown) =>
      logger.warn({ event: 'worker:count-failed', err, jobId: job.id }, 'Could not update the per-task counts'),
    );
  };
  // The most common move has a script of its own, of a few keys per job, called for a batch of them.
  const batcher = new CompletedCountBatcher({ redis, prefix, logger });
  const completed = (job: Job | undefined): void => {
    if (job?.id) batcher.add({ queue: job.queueName, jobId: job.id, task: job.name });
  };
  if (activeAfterMs === 0) {
    worker.on('active', sync);
    worker.on('completed', completed);
    worker.on('failed', sync);
  } else {
    const starting = new Map<string, NodeJS.Timeout>();
    worker.on('active', (job) => {
      if (!job.id) return;
      const id = job.id;
      starting.set(
        id,
        setTimeout(() => {
          starting.delete(id);
          sync(job);
        }, activeAfterMs),
      );
    });
    const outcome = (count: (job: Job | undefined) => void) => (job: Job | undefined): void => {
      if (job?.id) {
        clearTimeout(starting.get(job.id));
        starting.delete(job.id);
      }
      count(job);
    };
    worker.on('completed', outcome(completed));
    worker.on('failed', outcome(sync));
  }
  worker.on('stalled', (jobId) => {
    syncJobCountsById(redis, prefix, worker.name, jobId).catch((err: unknown) => logger.warn({ event: 'worker:count-failed', err, jobId }, 'Could not update the per-task counts'));
  });
  return { flush: () => batcher.flush() };
}
