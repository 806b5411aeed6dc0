import type { RedisClient } from '../redisConnection.ts';
import { storedFailure } from './jobError.ts';
import { JOB_ERROR_FIELD } from './jobFields.ts';
import { jobKey } from './jobKeys.ts';

/** A finished job as its hash tells it: for the producer's Prometheus metrics. */
export interface JobOutcome {
  /** The task (BullMQ job name); undefined if the job is gone. */
  task?: string;
  processedOn?: number;
  finishedOn?: number;
  /** The failure's reason: the worker's, `stalled` for a job over its stall budget, `error` for an error without one, `unknown` without either. */
  reason: string;
}

/** Reads a finished job's task, timings and failure reason in one `HMGET`. */
export async function readJobOutcome(redis: RedisClient, prefix: string, queue: string, jobId: string): Promise<JobOutcome> {
  const [name, processedOn, finishedOn, tpError, failedReason] = await redis.hmget(jobKey(prefix, queue, jobId), 'name', 'processedOn', 'finishedOn', JOB_ERROR_FIELD, 'failedReason');
  const outcome: JobOutcome = { reason: reasonOf(tpError, failedReason) };
  if (name) outcome.task = name;
  if (processedOn) outcome.processedOn = Number(processedOn);
  if (finishedOn) outcome.finishedOn = Number(finishedOn);
  return outcome;
}

function reasonOf(tpError: string | null | undefined, failedReason: string | null | undefined): string {
  try {
    return storedFailure(tpError, failedReason)?.reason ?? (tpError ? 'error' : 'unknown');
  } catch {
    return 'unknown';
  }
}
