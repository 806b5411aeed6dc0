import type { RedisClient } from '../redisConnection.ts';
import { DURATION_BOUNDS_MS, quantileOf } from './durationBuckets.ts';

/** How long a minute's statistics are kept: the last hour is shown, a little more is kept. */
export const MINUTE_STATS_TTL_SECONDS = 2 * 3600;
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
 * The hash of one minute's statistics of every task of a prefix (`<task>:completed`, `<task>:failed`,
 * `<task>:r:<reason>`, `<task>:b:<bucket>`), written by the count script (`countScript.ts`) when a job reaches
 * `completed` or `failed`, and kept {@link MINUTE_STATS_TTL_SECONDS}: at most 120 keys, whatever the job rate.
 */
export function minuteStatsKey(prefix: string, at: number): string {
  return `${prefix}:tp:stats:${Math.floor(at / MINUTE_MS) * MINUTE_MS}`;
}

/** Reads the last 60 minutes (the current one included) of each task: 60 `HGETALL`s in one pipeline. */
export async function readLastHour(redis: RedisClient, prefix: string, tasks: readonly string[], now = Date.now()): Promise<Map<string, HourStats>> {
  const current = Math.floor(now / MINUTE_MS) * MINUTE_MS;
  const minutes = Array.from({ length: 60 }, (_, i) => current - (59 - i) * MINUTE_MS);
  const pipeline = redis.pipeline();
  for (const minute of minutes) pipeline.hgetall(minuteStatsKey(prefix, minute));
  const replies = (await pipeline.exec()) ?? [];
  const hashes = minutes.map((_, m) => (replies[m]?.[1] ?? {}) as Record<string, string>);
  const result = new Map<string, HourStats>();
  for (const task of tasks) {
    const hourBuckets = new Array<number>(DURATION_BOUNDS_MS.length + 1).fill(0);
    const failuresByReason: Record<string, number> = {};
    const series = minutes.map((minute, m) => {
      const hash = hashes[m]!;
      const field = (name: string): number => Number(hash[`${task}:${name}`] ?? 0);
      const buckets = hourBuckets.map((_, b) => field(`b:${b}`));
      buckets.forEach((n, b) => (hourBuckets[b]! += n));
      for (const [name, value] of Object.entries(hash)) {
        if (name.startsWith(`${task}:r:`)) {
          const reason = name.slice(task.length + 3);
          failuresByReason[reason] = (failuresByReason[reason] ?? 0) + Number(value);
        }
      }
      return withQuantiles({ minute, completed: field('completed'), failed: field('failed') }, buckets);
    });
    const completed = series.reduce((sum, s) => sum + s.completed, 0);
    const failed = series.reduce((sum, s) => sum + s.failed, 0);
    result.set(task, withQuantiles({ completed, failed, throughputPerMinute: Math.round((completed / 60) * 100) / 100, failuresByReason, series }, hourBuckets));
  }
  return result;
}

function withQuantiles<T extends object>(stats: T, buckets: number[]): T & { p50Ms?: number; p95Ms?: number } {
  const p50Ms = quantileOf(buckets, 0.5);
  const p95Ms = quantileOf(buckets, 0.95);
  return { ...stats, ...(p50Ms !== undefined && { p50Ms }), ...(p95Ms !== undefined && { p95Ms }) };
}
