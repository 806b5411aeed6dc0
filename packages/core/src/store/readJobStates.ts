import type { Queue } from 'bullmq';
import { CANCELLED_BEFORE_START, storedFailure } from './jobError.ts';
import type { RedisClient } from '../redisConnection.ts';
import type { SerializedError } from '../serializeError.ts';
import { JOB_ERROR_FIELD } from './jobFields.ts';
import { cancelledMarkerKey } from './taskpoolKeys.ts';

/** How a job ended, as far as its waiters are concerned. */
export type Settled =
  | { state: 'completed'; value: unknown; attemptsMade: number }
  | { state: 'failed'; error: SerializedError; attemptsMade: number }
  /** No such job (never added, or removed by someone other than a cancel). */
  | { state: 'missing' };

/** A job, by queue and id. */
export interface JobRef {
  queue: string;
  jobId: string;
}

/** What {@link readJobStates} found: finished (with the job's last progress, if any), missing, or not finished yet. */
export type JobStateRead = (Settled & { progress?: number | object }) | { state: 'pending' };

/** The job-hash fields read; `atm` is BullMQ 5+'s name of `attemptsMade`. */
const FIELDS = ['returnvalue', 'atm', 'attemptsMade', 'failedReason', 'stacktrace', JOB_ERROR_FIELD, 'timestamp', 'progress'] as const;
const COMMANDS_PER_JOB = 4;

/**
 * Reads whether jobs have finished, in one pipeline of four commands per job: membership of BullMQ's
 * `completed` and `failed` sets, then the job hash's result fields, then our cancel marker. BullMQ's
 * `moveToFinished` script adds the job to its set and writes its result in one step, and a finished job's
 * hash no longer changes, so a job found in a set has its result in the hash read after it. A job in
 * neither set is pending if its hash exists, cancelled if our cancel marker exists (it was removed before
 * it ran), else missing. A command that failed (e.g. the connection dropped) leaves its job pending.
 */
export async function readJobStates(redis: RedisClient, queueOf: (name: string) => Queue, refs: readonly JobRef[]): Promise<JobStateRead[]> {
  if (refs.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const { queue, jobId } of refs) {
    const q = queueOf(queue);
    const key = q.toKey(jobId);
    pipeline.zscore(q.toKey('completed'), jobId);
    pipeline.zscore(q.toKey('failed'), jobId);
    pipeline.hmget(key, ...FIELDS);
    pipeline.exists(cancelledMarkerKey(key));
  }
  const replies = (await pipeline.exec()) ?? [];
  return refs.map((_, i) => {
    const reply = replies.slice(i * COMMANDS_PER_JOB, (i + 1) * COMMANDS_PER_JOB);
    if (reply.length < COMMANDS_PER_JOB || reply.some(([error]) => error)) return { state: 'pending' };
    const [completed, failed, fields, cancelled] = reply.map(([, value]) => value) as [string | null, string | null, (string | null)[], number];
    return interpret(completed !== null, failed !== null, fields, cancelled === 1);
  });
}

function interpret(completed: boolean, failed: boolean, fields: (string | null)[], cancelled: boolean): JobStateRead {
  const [returnvalue, atm, attemptsMade, failedReason, stacktrace, tpError, timestamp, progressText] = fields;
  const attempts = Number(atm ?? attemptsMade ?? 0);
  if (timestamp === null || timestamp === undefined) return cancelled ? { state: 'failed', error: CANCELLED_BEFORE_START, attemptsMade: 0 } : { state: 'missing' };
  // BullMQ writes `progress` only once the handler reports some.
  const progress = progressText ? { progress: parseReturnValue(progressText) as number | object } : {};
  if (completed) return { state: 'completed', value: parseReturnValue(returnvalue ?? null), attemptsMade: attempts, ...progress };
  if (!failed) return { state: 'pending' };
  const stack = parseJson<string[]>(stacktrace ?? null)?.at(-1);
  const error = storedFailure(tpError, failedReason ?? 'The job failed', stack)!;
  return { state: 'failed', error, attemptsMade: attempts, ...progress };
}

/** As BullMQ reads it: JSON, or the raw string if it is not JSON. */
function parseReturnValue(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function parseJson<T>(text: string | null): T | undefined {
  if (text === null) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}
