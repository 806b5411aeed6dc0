import { createRedisConnection, JOB_ERROR_FIELD, storedFailure, type Logger } from '@taskpool/core';
import { QueueEvents } from 'bullmq';
import type { RedisClient } from '@taskpool/core';
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
  const [name, processedOn, finishedOn, tpError, failedReason] = (await redis.hmget(`${prefix}:${queue}:${jobId}`, 'name', 'processedOn', 'finishedOn', JOB_ERROR_FIELD, 'failedReason')) as (string | null)[];
  const finishedAt = finishedOn ? Number(finishedOn) : Date.now();
  const job: FinishedJob = { jobId, task: name ?? 'unknown', queue, outcome, finishedAt };
  if (processedOn && finishedOn) job.durationMs = Math.max(0, Number(finishedOn) - Number(processedOn));
  if (outcome === 'failed') job.reason = reasonOf(tpError, failedReason);
  return job;
}

/** The failure's reason: the worker's, or `stalled` for BullMQ's stalled limit (its `tpError` may not be written yet); `unknown` without either. */
function reasonOf(tpError: string | null | undefined, failedReason: string | null | undefined): string {
  try {
    return storedFailure(tpError, failedReason)?.reason ?? (tpError ? 'error' : 'unknown');
  } catch {
    return 'unknown';
  }
}
