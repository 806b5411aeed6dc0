import type { RedisClient } from '@taskpool/core';
import { bucketOf, DURATION_BOUNDS_MS, quantileOf } from './durationBuckets.ts';
import type { FinishedJob } from './finishedJob.ts';

/** How long a minute's statistics are kept: the last hour is shown, a little more is kept. */
const KEEP_SECONDS = 2 * 3600;
/** How long an event is remembered, so each finished job is counted once however many producers saw it. */
const SEEN_SECONDS = 600;
const MINUTE_MS = 60_000;

/** One minute of one task. */
export interface MinuteStats {
  /** The minute's start (ms since the epoch). */
  minute: number;
  completed: number;
  failed: number;
  p50Ms?: number;
  p95Ms?: number;
}

/** One task over the last hour. */
export interface HourStats {
  completed: number;
  failed: number;
  /** Completed jobs per minute, averaged over the hour. */
  throughputPerMinute: number;
  /** Duration quantiles of the completed jobs (bucket estimates; see `durationBuckets.ts`). */
  p50Ms?: number;
  p95Ms?: number;
  /** Failures in the hour by reason. */
  failuresByReason: Record<string, number>;
  /** Oldest first, one entry per minute. */
  series: MinuteStats[];
}

/**
 * Counts the event once per job and end time (a `SET NX` marker), whichever producer saw it first, then adds
 * it to the minute's hash: `completed` / `failed`, `r:<reason>`, and `b:<bucket>` for a completed job's duration.
 */
const RECORD_SCRIPT = `
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  for i = 3, #ARGV do redis.call('HINCRBY', KEYS[2], ARGV[i], 1) end
  redis.call('EXPIRE', KEYS[2], ARGV[2])
  return 1
end
return 0
`;

/** The per-minute aggregates of one prefix in Redis: what the dashboard's throughput and p50/p95 are read from. */
export function minuteStatsKey(prefix: string, task: string, minute: number): string {
  return `${prefix}:tp:stats:${task}:${minute}`;
}

/** Adds a finished job to its minute; false when another producer had already counted it. */
export async function recordMinute(redis: RedisClient, prefix: string, job: FinishedJob): Promise<boolean> {
  const minute = Math.floor(job.finishedAt / MINUTE_MS) * MINUTE_MS;
  const fields: string[] = [job.outcome];
  if (job.outcome === 'failed') fields.push(`r:${job.reason ?? 'unknown'}`);
  else if (job.durationMs !== undefined) fields.push(`b:${bucketOf(job.durationMs)}`);
  const seenKey = `${prefix}:tp:stats:seen:${job.queue}:${job.jobId}:${job.finishedAt}`;
  const counted = await redis.eval(RECORD_SCRIPT, 2, seenKey, minuteStatsKey(prefix, job.task, minute), SEEN_SECONDS, KEEP_SECONDS, ...fields);
  return counted === 1;
}

/** Reads the last 60 minutes (the current one included) of each task, in one pipeline. */
export async function readLastHour(redis: RedisClient, prefix: string, tasks: readonly string[], now = Date.now()): Promise<Map<string, HourStats>> {
  const current = Math.floor(now / MINUTE_MS) * MINUTE_MS;
  const minutes = Array.from({ length: 60 }, (_, i) => current - (59 - i) * MINUTE_MS);
  const pipeline = redis.pipeline();
  for (const task of tasks) for (const minute of minutes) pipeline.hgetall(minuteStatsKey(prefix, task, minute));
  const replies = (await pipeline.exec()) ?? [];
  const result = new Map<string, HourStats>();
  tasks.forEach((task, t) => {
    const hourBuckets = new Array<number>(DURATION_BOUNDS_MS.length + 1).fill(0);
    const failuresByReason: Record<string, number> = {};
    const series = minutes.map((minute, m) => {
      const hash = (replies[t * minutes.length + m]?.[1] ?? {}) as Record<string, string>;
      const buckets = hourBuckets.map((_, b) => Number(hash[`b:${b}`] ?? 0));
      buckets.forEach((n, b) => (hourBuckets[b]! += n));
      for (const [field, value] of Object.entries(hash)) {
        if (field.startsWith('r:')) failuresByReason[field.slice(2)] = (failuresByReason[field.slice(2)] ?? 0) + Number(value);
      }
      return withQuantiles({ minute, completed: Number(hash.completed ?? 0), failed: Number(hash.failed ?? 0) }, buckets);
    });
    const completed = series.reduce((sum, s) => sum + s.completed, 0);
    const failed = series.reduce((sum, s) => sum + s.failed, 0);
    const hour = withQuantiles({ completed, failed, throughputPerMinute: Math.round((completed / 60) * 100) / 100, failuresByReason, series }, hourBuckets);
    result.set(task, hour);
  });
  return result;
}

function withQuantiles<T extends object>(stats: T, buckets: number[]): T & { p50Ms?: number; p95Ms?: number } {
  const p50Ms = quantileOf(buckets, 0.5);
  const p95Ms = quantileOf(buckets, 0.95);
  return { ...stats, ...(p50Ms !== undefined && { p50Ms }), ...(p95Ms !== undefined && { p95Ms }) };
}
