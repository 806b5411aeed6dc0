import { describe, expect, it } from 'vitest';
import { bucketOf, DURATION_BOUNDS_MS, quantileOf } from './durationBuckets.ts';

describe('bucketOf', () => {
  it('puts a duration in the first bucket whose bound holds it', () => {
    expect(bucketOf(0)).toBe(0);
    expect(bucketOf(10)).toBe(0);
    expect(bucketOf(11)).toBe(1);
    expect(bucketOf(1_000_000)).toBe(DURATION_BOUNDS_MS.length);
  });
});

describe('quantileOf', () => {
  const counts = (entries: Record<number, number>) => Array.from({ length: DURATION_BOUNDS_MS.length + 1 }, (_, i) => entries[i] ?? 0);

  it('is undefined without data', () => {
    expect(quantileOf(counts({}), 0.5)).toBeUndefined();
  });

  it('interpolates within the bucket holding the rank', () => {
    // 100 durations in (100, 250]: the median is half-way through that bucket.
    expect(quantileOf(counts({ 4: 100 }), 0.5)).toBe(175);
    // 90 fast (<= 10 ms) and 10 slow in (1000, 2500]: p50 is fast, p95 half-way through the slow bucket.
    const mixed = counts({ 0: 90, 7: 10 });
    expect(quantileOf(mixed, 0.5)).toBeLessThanOrEqual(10);
    expect(quantileOf(mixed, 0.95)).toBe(1_750);
  });

  it('reports a quantile past the last bound as the last bound', () => {
    expect(quantileOf(counts({ [DURATION_BOUNDS_MS.length]: 5 }), 0.95)).toBe(600_000);
  });
});
