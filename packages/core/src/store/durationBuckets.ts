/**
 * Upper bounds (ms) of the duration buckets, shared by the Prometheus histogram and the per-minute
 * statistics in Redis: from 10 ms (a trivial task) to 10 min. Past the last bound: the `+Inf` bucket.
 */
export const DURATION_BOUNDS_MS = [10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 120_000, 300_000, 600_000] as const;

/** The index of the bucket a duration falls in (`DURATION_BOUNDS_MS.length` for `+Inf`). */
export function bucketOf(durationMs: number): number {
  const index = DURATION_BOUNDS_MS.findIndex((bound) => durationMs <= bound);
  return index === -1 ? DURATION_BOUNDS_MS.length : index;
}

/**
 * Estimates a quantile (0-1) from bucket counts, as Prometheus's `histogram_quantile` does: linear within the
 * bucket that holds it; a quantile in `+Inf` is reported as the last bound. Undefined without data.
 */
export function quantileOf(counts: readonly number[], q: number): number | undefined {
  const total = counts.reduce((sum, n) => sum + n, 0);
  if (total === 0) return undefined;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i] ?? 0;
    if (n > 0 && seen + n >= rank) {
      if (i >= DURATION_BOUNDS_MS.length) return DURATION_BOUNDS_MS.at(-1);
      const lower = i === 0 ? 0 : DURATION_BOUNDS_MS[i - 1]!;
      const upper = DURATION_BOUNDS_MS[i]!;
      return Math.round(lower + ((upper - lower) * (rank - seen)) / n);
    }
    seen += n;
  }
  return DURATION_BOUNDS_MS.at(-1);
}
