import type { RedisClient } from '../redisConnection.ts';
import type { FailureReason } from '../serializeError.ts';
import { ADDED_COUNT_SCRIPT, COMPLETED_COUNT_SCRIPT, COUNT_SCRIPT } from './countScript.ts';
import { DURATION_BOUNDS_MS } from './durationBuckets.ts';
import { jobKey, lockKey, queueKey } from './jobKeys.ts';
import { STALLED_REASON } from './jobFields.ts';
import { MINUTE_STATS_TTL_SECONDS, minuteStatsKey } from './minuteStats.ts';
import { luaScript, runScript, runScripts } from './runScript.ts';

/**
 * taskpool's per-task counts, kept as jobs move (see docs/architecture.md, "Per-task counts"): for each queue
 * and task, sorted sets of job ids: `queued` (score: when the job is due, so a delayed job that came due counts
 * as waiting), `prioritized`, `active`, and one `failed:<reason>` set per failure reason (score: when it
 * failed). A read costs a fixed number of commands per task, whatever the number of jobs.
 */

/** Every failure reason a failed job is counted under: the worker's reasons, and `unknown` (no `tpError`). */
export const COUNTED_REASONS = ['error', 'invalid', 'exit', 'signal', 'killed', 'oom', 'timeout', 'stalled', 'cancelled', 'quarantined', 'unknown'] as const satisfies readonly (FailureReason | 'unknown')[];

/** A failure reason as counted. */
export type CountedReason = (typeof COUNTED_REASONS)[number];

type CountSet = 'queued' | 'prioritized' | 'active' | `failed:${CountedReason}`;

/** The sorted set of one task's jobs in one counted state. */
export function countSetKey(prefix: string, queue: string, task: string, set: CountSet): string {
  return `${prefix}:tp:count:${queue}:${task}:${set}`;
}

/** The hash of a task's latest failure message per reason (`<reason>`, and `<reason>@` its time). */
export function failureMessagesKey(prefix: string, queue: string, task: string): string {
  return `${prefix}:tp:count:${queue}:${task}:messages`;
}

/** The set of task names a queue's counts hold. */
export function countedTasksKey(prefix: string, queue: string): string {
  return `${prefix}:tp:tasks:${queue}`;
}

const SCRIPT = luaScript(COUNT_SCRIPT);
const COMPLETED_SCRIPT = luaScript(COMPLETED_COUNT_SCRIPT);
const ADDED_SCRIPT = luaScript(ADDED_COUNT_SCRIPT);

/** A job to place in the counts: its queue, id and task (its BullMQ job name). */
export interface CountedJob {
  queue: string;
  jobId: string;
  task: string;
}

function countCall(prefix: string, job: CountedJob, now: number): { keys: string[]; args: (string | number)[] } {
  const { queue, jobId, task } = job;
  const key = jobKey(prefix, queue, jobId);
  const keys = [
    key,
    lockKey(key),
    ...(['completed', 'failed', 'delayed', 'prioritized', 'waiting-children'] as const).map((s) => queueKey(prefix, queue, s)),
    countSetKey(prefix, queue, task, 'queued'),
    countSetKey(prefix, queue, task, 'prioritized'),
    countSetKey(prefix, queue, task, 'active'),
    failureMessagesKey(prefix, queue, task),
    countedTasksKey(prefix, queue),
    minuteStatsKey(prefix, now),
    ...COUNTED_REASONS.map((reason) => countSetKey(prefix, queue, task, `failed:${reason}`)),
  ];
  const args = [jobId, task, now, MINUTE_STATS_TTL_SECONDS, STALLED_REASON, DURATION_BOUNDS_MS.join(','), ...COUNTED_REASONS];
  return { keys, args };
}

/**
 * Places jobs BullMQ has just completed in the per-task counts: what {@link syncJobCounts} does, with one script
 * call per queue of a few keys per job instead of one of 25 keys each on the usual path (the job counted as
 * queued, prioritized or active), and with {@link syncJobCounts} for the others.
 */
export async function countCompleted(redis: RedisClient, prefix: string, jobs: readonly CountedJob[], now = Date.now()): Promise<void> {
  const general: CountedJob[] = [];
  await Promise.all(
    [...byQueue(jobs)].map(async ([queue, list]) => {
      const keys = [queueKey(prefix, queue, 'completed'), minuteStatsKey(prefix, now)];
      const args: (string | number)[] = [MINUTE_STATS_TTL_SECONDS, DURATION_BOUNDS_MS.join(',')];
      for (const { jobId, task } of list) {
        keys.push(jobKey(prefix, queue, jobId), ...(['queued', 'prioritized', 'active'] as const).map((set) => countSetKey(prefix, queue, task, set)));
        args.push(jobId, task);
      }
      const placed = (await runScript(redis, COMPLETED_SCRIPT, keys, args)) as string[];
      list.forEach((job, i) => placed[i] !== 'd' && general.push(job));
    }),
  );
  if (general.length > 0) await syncJobCounts(redis, prefix, general, now);
}

/**
 * Places jobs just added (neither delayed, prioritized nor children of a flow: those go to
 * {@link syncJobCounts}) in the per-task counts: one script call per queue, of two keys per job, counts each new
 * one as queued; one counted already (its worker was first, or its id existed) is left alone, and one finished
 * already is placed by {@link syncJobCounts}.
 */
export async function countAdded(redis: RedisClient, prefix: string, jobs: readonly CountedJob[], now = Date.now()): Promise<void> {
  const general: CountedJob[] = [];
  await Promise.all(
    [...byQueue(jobs)].map(async ([queue, list]) => {
      const keys = [countedTasksKey(prefix, queue)];
      const args: string[] = [];
      for (const { jobId, task } of list) {
        keys.push(jobKey(prefix, queue, jobId), countSetKey(prefix, queue, task, 'queued'));
        args.push(jobId, task);
      }
      const placed = (await runScript(redis, ADDED_SCRIPT, keys, args)) as string[];
      list.forEach((job, i) => placed[i] === 'general' && general.push(job));
    }),
  );
  if (general.length > 0) await syncJobCounts(redis, prefix, general, now);
}

function byQueue(jobs: readonly CountedJob[]): Map<string, CountedJob[]> {
  const queues = new Map<string, CountedJob[]>();
  for (const job of jobs) {
    const list = queues.get(job.queue);
    if (list) list.push(job);
    else queues.set(job.queue, [job]);
  }
  return queues;
}

/**
 * Places jobs in the per-task counts by their state in Redis now (one script per job, one pipeline), and adds
 * each job that reached `completed` or `failed` to the minute's statistics once. Call it after anything that
 * moves a job: an add, a start, an outcome, a retry, a cancel, a stall. Calling it twice is harmless.
 */
export async function syncJobCounts(redis: RedisClient, prefix: string, jobs: readonly CountedJob[], now = Date.now()): Promise<void> {
  await runScripts(
    redis,
    SCRIPT,
    jobs.map((job) => countCall(prefix, job, now)),
  );
}

/** One task's counted jobs in one queue. */
export interface TaskCountsRow {
  task: string;
  waiting: number;
  delayed: number;
  prioritized: number;
  active: number;
  /** Failed jobs within the window, per reason (reasons with none left out), with the latest message. */
  failures: { reason: CountedReason; count: number; message: string }[];
}

/** Options of {@link readTaskCounts}. */
export interface ReadTaskCountsOptions {
  prefix: string;
  queue: string;
  /** Failed jobs older than this are not counted (and are dropped from the sets): the failed-job retention. */
  failedWindowMs: number;
  now?: number;
  /** Place again the members of drifted states (see {@link readTaskCounts}). Default: true. */
  repair?: boolean;
}

/** At most this many of the oldest members of a drifted set are placed again per read. */
const HEAL_BATCH = 100;

/**
 * Reads a queue's per-task counts: the task names, then one MULTI (an atomic snapshot) of a fixed number of
 * commands per task and BullMQ's own totals. When a state's sum over tasks exceeds BullMQ's count (a job removed
 * or moved where no taskpool code saw it, or an outcome whose count is in flight), as many of the oldest members
 * of that state's sets as the excess (at most {@link HEAL_BATCH}) are placed again, and the counts re-read once.
 */
export async function readTaskCounts(redis: RedisClient, options: ReadTaskCountsOptions): Promise<TaskCountsRow[]> {
  const first = await readOnce(redis, options);
  const drifted = options.repair === false ? [] : driftedSets(first);
  if (drifted.length === 0) return first.rows;
  await heal(redis, options, drifted);
  return (await readOnce(redis, options)).rows;
}

interface Snapshot {
  rows: TaskCountsRow[];
  /** BullMQ's counts: wait + paused + delayed, prioritized, active, failed. */
  totals: { queued: number; prioritized: number; active: number; failed: number };
}

async function readOnce(redis: RedisClient, options: ReadTaskCountsOptions): Promise<Snapshot> {
  const { prefix, queue, failedWindowMs } = options;
  const now = options.now ?? Date.now();
  const tasks = (await redis.smembers(countedTasksKey(prefix, queue))).sort();
  const empty = { queued: 0, prioritized: 0, active: 0, failed: 0 };
  if (tasks.length === 0) return { rows: [], totals: empty };
  const multi = redis.multi();
  const since = now - failedWindowMs;
  for (const task of tasks) {
    const queued = countSetKey(prefix, queue, task, 'queued');
    multi.zcount(queued, '-inf', now).zcount(queued, `(${now}`, '+inf');
    multi.zcard(countSetKey(prefix, queue, task, 'prioritized')).zcard(countSetKey(prefix, queue, task, 'active'));
    for (const reason of COUNTED_REASONS) {
      const key = countSetKey(prefix, queue, task, `failed:${reason}`);
      multi.zremrangebyscore(key, '-inf', `(${since}`).zcard(key);
    }
    multi.hgetall(failureMessagesKey(prefix, queue, task));
  }
  multi.llen(queueKey(prefix, queue, 'wait')).llen(queueKey(prefix, queue, 'paused')).zcard(queueKey(prefix, queue, 'delayed'));
  multi.zcard(queueKey(prefix, queue, 'prioritized')).llen(queueKey(prefix, queue, 'active')).zcard(queueKey(prefix, queue, 'failed'));
  const replies = ((await multi.exec()) ?? []).map(([error, value]) => {
    if (error) throw error;
    return value;
  });
  const perTask = 5 + 2 * COUNTED_REASONS.length;
  const rows = tasks.map((task, t): TaskCountsRow => {
    const at = (i: number): number => Number(replies[t * perTask + i] ?? 0);
    const messages = (replies[t * perTask + perTask - 1] ?? {}) as Record<string, string>;
    const failures = COUNTED_REASONS.map((reason, r) => ({ reason, count: at(5 + 2 * r), message: messages[reason] ?? '' }))
      .filter((group) => group.count > 0)
      .sort((a, b) => b.count - a.count);
    return { task, waiting: at(0), delayed: at(1), prioritized: at(2), active: at(3), failures };
  });
  const [wait, paused, delayed, prioritized, active, failed] = replies.slice(tasks.length * perTask).map(Number) as number[];
  return { rows, totals: { queued: wait! + paused! + delayed!, prioritized: prioritized!, active: active!, failed: failed! } };
}

/**
 * The sets of each state whose sum over tasks exceeds BullMQ's count, with how many members to check: twice the
 * excess and 10 more (a transition in flight makes a small excess), at most {@link HEAL_BATCH}.
 */
function driftedSets({ rows, totals }: Snapshot): { task: string; set: CountSet; count: number }[] {
  const sum = (f: (row: TaskCountsRow) => number): number => rows.reduce((total, row) => total + f(row), 0);
  const excess: [CountSet[], number][] = [
    [['queued'], sum((r) => r.waiting + r.delayed) - totals.queued],
    [['prioritized'], sum((r) => r.prioritized) - totals.prioritized],
    [['active'], sum((r) => r.active) - totals.active],
    [COUNTED_REASONS.map((reason) => `failed:${reason}` as const), sum((r) => r.failures.reduce((n, g) => n + g.count, 0)) - totals.failed],
  ];
  return excess
    .filter(([, over]) => over > 0)
    .flatMap(([sets, over]) => rows.flatMap((row) => sets.map((set) => ({ task: row.task, set, count: Math.min(2 * over + 10, HEAL_BATCH) }))));
}

/**
 * Places again some members of the given sets, their jobs' real state deciding where they go: half the oldest
 * (where jobs removed behind our back collect) and half at random (a removed delayed job may be anywhere).
 */
async function heal(redis: RedisClient, options: ReadTaskCountsOptions, sets: { task: string; set: CountSet; count: number }[]): Promise<void> {
  const { prefix, queue } = options;
  const pipeline = redis.pipeline();
  for (const { task, set, count } of sets) {
    const key = countSetKey(prefix, queue, task, set);
    pipeline.zrange(key, 0, Math.ceil(count / 2) - 1).zrandmember(key, Math.floor(count / 2));
  }
  const replies = (await pipeline.exec()) ?? [];
  const jobs = sets.flatMap(({ task }, i) => {
    const ids = new Set([...((replies[2 * i]?.[1] ?? []) as string[]), ...((replies[2 * i + 1]?.[1] ?? []) as string[])]);
    return [...ids].map((jobId) => ({ queue, jobId, task }));
  });
  await syncJobCounts(redis, prefix, jobs);
}

/** {@link syncJobCounts} for a job known by id only (its task read first); nothing for a job that is gone. */
export async function syncJobCountsById(redis: RedisClient, prefix: string, queue: string, jobId: string): Promise<void> {
  const task = await redis.hget(jobKey(prefix, queue, jobId), 'name');
  if (task !== null) await syncJobCounts(redis, prefix, [{ queue, jobId, task }]);
}
