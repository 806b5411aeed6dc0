import type { Logger } from '@taskpool/core';
import { createRedisConnection, readJobOutcome, type RedisClient } from '@taskpool/core/internal';
import { QueueEvents } from 'bullmq';
import type { FinishedJob } from './finishedJob.ts';

/** Options of {@link startJobEventsRecorder}. */
export interface JobEventsRecorderOptions {
  redisUrl: string;
  prefix: string;
  queues: readonly string[];
  logger: Logger;
  /** Called once per finished job this process sees; a throw is logged, never fatal. */
  onFinished(job: FinishedJob): void | Promise<void>;
}

/** A running recorder. */
export interface JobEventsRecorder {
  /** Resolves once every queue's event reader is connected (never while Redis is away). */
  ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * Reads BullMQ's `completed` and `failed` events of every queue (a `failed` event means failed for good: a
 * failure to be retried emits `delayed` or `waiting`), reads the job's name, timings and `tpError` reason,
 * and hands a {@link FinishedJob} on. Its connections wait and retry while Redis is away (worker role);
 * events missed meanwhile are not counted (BullMQ's event stream is best-effort).
 */
export function startJobEventsRecorder(options: JobEventsRecorderOptions): JobEventsRecorder {
  const redis = createRedisConnection(options.redisUrl, 'worker');
  const logger = options.logger.child({ component: 'job-events' });
  const readers = options.queues.map((queue) => {
    const events = new QueueEvents(queue, { connection: createRedisConnection(options.redisUrl, 'worker'), prefix: options.prefix });
    const handle = (jobId: string, outcome: FinishedJob['outcome']): void => {
      void finishedJob(redis, options.prefix, queue, jobId, outcome)
        .then((job) => options.onFinished(job))
        .catch((err: unknown) => logger.warn({ event: 'job-events:error', jobId, err }, 'Could not record a finished job'));
    };
    events.on('completed', ({ jobId }) => handle(jobId, 'completed'));
    events.on('failed', ({ jobId }) => handle(jobId, 'failed'));
    events.on('error', (err) => logger.debug({ event: 'job-events:error', err }));
    return events;
  });
  return {
    ready: Promise.all(readers.map((events) => events.waitUntilReady())).then(() => undefined),
    async close() {
      await Promise.all(readers.map((events) => events.close()));
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

async function finishedJob(redis: RedisClient, prefix: string, queue: string, jobId: string, outcome: FinishedJob['outcome']): Promise<FinishedJob> {
  const { task, processedOn, finishedOn, reason } = await readJobOutcome(redis, prefix, queue, jobId);
  const job: FinishedJob = { jobId, task: task ?? 'unknown', queue, outcome, finishedAt: finishedOn ?? Date.now() };
  if (processedOn !== undefined && finishedOn !== undefined) job.durationMs = Math.max(0, finishedOn - processedOn);
  if (outcome === 'failed') job.reason = reason;
  return job;
}
