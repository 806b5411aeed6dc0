import type { Queue } from 'bullmq';
import { failureFromReason } from './jobError.ts';
import { JOB_ERROR_FIELD } from './jobFields.ts';
import type { RedisClient } from '../redisConnection.ts';
import type { JobState } from '../client/jobView.ts';
import type { FailureReason, SerializedError } from '../serializeError.ts';

/** The states a search looks in. */
export type SearchableState = 'waiting' | 'active' | 'delayed' | 'prioritized' | 'completed' | 'failed';

/** Every {@link SearchableState}, in the order a search reads them. */
export const SEARCHABLE_STATES: readonly SearchableState[] = ['active', 'waiting', 'prioritized', 'delayed', 'failed', 'completed'];

/** What to look for; every given criterion must match. */
export interface JobQuery {
  /** Only jobs of this task. */
  task?: string;
  /** Only jobs in this state. Default: every state. */
  state?: SearchableState;
  /** Case-insensitive text in the error (name, message, code, reason); only failed and retrying jobs have one. */
  text?: string;
  /** Most jobs returned. Default: 50. */
  limit?: number;
}

/** A job as a search lists it: no input, no result, the error without its stack. */
export interface JobSummary {
  id: string;
  task: string;
  queue: string;
  state: JobState;
  attempts: number;
  createdAt: number;
  finishedAt?: number;
  error?: { name: string; message: string; code?: string; reason?: FailureReason };
}

/** How many jobs per state and queue a search reads at most (newest first): a search costs a bounded time. */
export const SEARCH_SCAN_LIMIT = 5_000;
const PAGE = 500;
const FIELDS = ['name', 'timestamp', 'finishedOn', 'atm', 'failedReason', JOB_ERROR_FIELD] as const;

/** BullMQ's keys behind each state; `waiting` also reads the legacy `paused` list. */
const KEYS: Record<SearchableState, string[]> = {
  waiting: ['wait', 'paused'],
  active: ['active'],
  prioritized: ['prioritized'],
  delayed: ['delayed'],
  failed: ['failed'],
  completed: ['completed'],
};

/**
 * Finds jobs of one queue by task, state and error text, newest first within each state. Reads ids with
 * LRANGE/ZREVRANGE and the few fields it needs with pipelined HMGETs, 500 at a time.
 *
 * @returns The matches (at most `limit`) and whether the scan stopped at {@link SEARCH_SCAN_LIMIT}.
 */
export async function searchJobs(queue: Queue, redis: RedisClient, query: JobQuery): Promise<{ jobs: JobSummary[]; truncated: boolean }> {
  const limit = query.limit ?? 50;
  const text = query.text?.toLowerCase();
  const jobs: JobSummary[] = [];
  let truncated = false;
  for (const state of query.state ? [query.state] : SEARCHABLE_STATES) {
    for (const suffix of KEYS[state]) {
      const key = queue.toKey(suffix);
      const kind = await redis.type(key);
      if (kind !== 'list' && kind !== 'zset') continue;
      for (let start = 0; start < SEARCH_SCAN_LIMIT && jobs.length < limit; start += PAGE) {
        const end = Math.min(start + PAGE, SEARCH_SCAN_LIMIT) - 1;
        const ids = kind === 'list' ? await redis.lrange(key, start, end) : await redis.zrevrange(key, start, end);
        if (ids.length === 0) break;
        if (start + ids.length >= SEARCH_SCAN_LIMIT) truncated = true;
        const pipeline = redis.pipeline();
        for (const id of ids) pipeline.hmget(queue.toKey(id), ...FIELDS);
        const rows = (await pipeline.exec()) ?? [];
        ids.forEach((id, i) => {
          if (jobs.length >= limit) return;
          const summary = toSummary(queue.name, id, state, rows[i]?.[1] as (string | null)[] | undefined);
          if (summary && matches(summary, query.task, text)) jobs.push(summary);
        });
      }
    }
  }
  return { jobs, truncated };
}

function toSummary(queue: string, id: string, state: SearchableState, fields: (string | null)[] | undefined): JobSummary | undefined {
  const [name, timestamp, finishedOn, attempts, failedReason, tpError] = fields ?? [];
  if (!name) return undefined; // removed between the two reads
  const summary: JobSummary = { id, task: name, queue, state, attempts: Number(attempts ?? 0), createdAt: Number(timestamp ?? 0) };
  if (finishedOn) summary.finishedAt = Number(finishedOn);
  const error = parseError(tpError) ?? (failedReason ? failureFromReason(failedReason) : undefined);
  if (error) summary.error = error;
  return summary;
}

function parseError(text: string | null | undefined): JobSummary['error'] | undefined {
  if (!text) return undefined;
  try {
    const { name, message, code, reason } = JSON.parse(text) as SerializedError;
    return { name, message, ...(code !== undefined && { code }), ...(reason !== undefined && { reason }) };
  } catch {
    return undefined;
  }
}

function matches(job: JobSummary, task: string | undefined, text: string | undefined): boolean {
  if (task !== undefined && job.task !== task) return false;
  if (text === undefined || text === '') return true;
  const { error } = job;
  if (!error) return false;
  return [error.name, error.message, error.code, error.reason].some((part) => part?.toLowerCase().includes(text));
}

/** How many failed jobs {@link failedJobIdsOfTask} reads per round trip. */
const FAILED_PAGE = 500;

/** The ids of a queue's failed jobs of one task: BullMQ's `failed` set, paged, and each job's `name`. */
export async function failedJobIdsOfTask(queue: Queue, redis: RedisClient, task: string): Promise<string[]> {
  const failedKey = queue.toKey('failed');
  const ids: string[] = [];
  for (let start = 0; ; start += FAILED_PAGE) {
    const page = await redis.zrange(failedKey, start, start + FAILED_PAGE - 1);
    if (page.length === 0) break;
    const pipeline = redis.pipeline();
    for (const id of page) pipeline.hget(queue.toKey(id), 'name');
    const names = (await pipeline.exec()) ?? [];
    page.forEach((id, i) => {
      if (names[i]?.[1] === task) ids.push(id);
    });
  }
  return ids;
}
