import { Job, type Queue } from 'bullmq';
import type { RedisClient } from '../redisConnection.ts';
import { failureFromReason, readJobError } from '../store/jobError.ts';
import { jobKey } from '../store/jobKeys.ts';
import { jobInputOf, readJobOutput } from '../store/jobData.ts';
import type { SerializedError } from '../serializeError.ts';

/** A job's lifecycle states (BullMQ's), plus `unknown` for a job that is gone. */
export type JobState = 'waiting' | 'prioritized' | 'delayed' | 'active' | 'waiting-children' | 'completed' | 'failed' | 'unknown';

/** What anyone may read of a job. */
export interface JobView {
  id: string;
  task: string;
  queue: string;
  state: JobState;
  /** Attempts made so far. */
  attempts: number;
  /** The latest progress the handler reported. */
  progress: number | object;
  /** The input as submitted; an input that went by reference (the claim check) is shown as its reference (`isRef`). */
  input: unknown;
  /**
   * The handler's output, once completed. An output that went by reference (over the inline limit) is shown as its
   * reference (`isRef`), not read: `handle.result()` or `client.get(ref)` give the value (over HTTP,
   * `GET /v1/objects/:id` gives its bytes: the encoded value's JSON, `{ json, meta? }`).
   */
  result?: unknown;
  /** The last attempt's error, once failed (and, while retrying, the last failure). */
  error?: SerializedError;
  createdAt: number;
  finishedAt?: number;
}

/** Reads a job's view from its queue, or undefined if there is no such job. */
export async function readJobView(queue: Queue, redis: RedisClient, prefix: string, jobId: string): Promise<JobView | undefined> {
  // State first: a job that finishes between the two reads then shows its result with an older state,
  // never `completed` without its result.
  const state = (await queue.getJobState(jobId)) as JobState;
  const job = await Job.fromId(queue, jobId);
  if (!job) return undefined;
  const view: JobView = {
    id: jobId,
    task: job.name,
    queue: queue.name,
    state,
    attempts: job.attemptsMade,
    progress: job.progress as number | object,
    input: jobInputOf(job.data),
    createdAt: job.timestamp,
  };
  if (job.finishedOn) view.finishedAt = job.finishedOn;
  if (state === 'completed') view.result = readJobOutput(job.returnvalue);
  if (job.failedReason) {
    view.error = (await readJobError(redis, jobKey(prefix, queue.name, jobId))) ?? failureFromReason(job.failedReason);
  }
  return view;
}
