import { describe, expect, it } from 'vitest';
import { AUTO_MAX_CHUNK, AUTO_TARGET_MS, ChunkSizer } from './chunkSizer.ts';

/** Reports chunks of the current size whose items take `itemMs` each, until the size stops changing. */
function settle(sizer: ChunkSizer, itemMs: number, rounds = 40): number[] {
  const sizes = [sizer.size];
  for (let i = 0; i < rounds; i++) {
    sizer.report(sizer.size, sizer.size * itemMs);
    if (sizer.size !== sizes.at(-1)) sizes.push(sizer.size);
  }
  return sizes;
}

describe('ChunkSizer', () => {
  it('starts at 1 and doubles while a chunk carries less than the target, up to the cap', () => {
    const sizer = new ChunkSizer();
    expect(sizer.size).toBe(1);
    expect(sizer.growing).toBe(true);
    const sizes = settle(sizer, 0.0005);
    expect(sizes.slice(0, 5)).toEqual([1, 2, 4, 8, 16]);
    expect(sizer.size).toBe(AUTO_MAX_CHUNK);
    expect(sizer.growing).toBe(false);
  });

  it('stops where a chunk carries the target', () => {
    const sizer = new ChunkSizer();
    settle(sizer, 0.1);
    expect(sizer.size * 0.1).toBeGreaterThanOrEqual(AUTO_TARGET_MS);
    expect(sizer.size * 0.1).toBeLessThanOrEqual(2 * AUTO_TARGET_MS);
    expect(sizer.growing).toBe(false);
  });

  it('stays at 1 for tasks longer than the target', () => {
    const sizer = new ChunkSizer();
    expect(settle(sizer, 50)).toEqual([1]);
    expect(sizer.growing).toBe(false);
  });

  it('shrinks when the tasks get slower (not for one slow run), and a report of an older, smaller chunk never grows it', () => {
    const sizer = new ChunkSizer();
    settle(sizer, 0.01);
    const big = sizer.size;
    expect(big).toBeGreaterThan(100);
    sizer.report(10, 0.1);
    expect(sizer.size).toBe(big);
    sizer.report(big, big * 0.01);
    // One run 50 times slower (a GC, a busy core): nothing changes.
    sizer.report(big, big * 0.5);
    expect(sizer.size).toBe(big);
    // Items now take 5 ms: once the last reports all say so, a chunk is brought within twice the target.
    for (let i = 0; i < 4; i++) sizer.report(sizer.size, sizer.size * 5);
    expect(sizer.size).toBeLessThan(10);
    for (let i = 0; i < 30; i++) sizer.report(sizer.size, sizer.size * 5);
    expect(sizer.size * 5).toBeLessThanOrEqual(2 * AUTO_TARGET_MS);
  });

  it('does not take a slow cold start for the tasks being long: growing until 3 reports', () => {
    const sizer = new ChunkSizer();
    sizer.report(1, 40);
    expect(sizer.growing).toBe(true);
    sizer.report(1, 0.05);
    expect(sizer.size).toBe(2);
    expect(sizer.growing).toBe(true);
  });

  it('ignores reports without a usable time, and caps below a size that did not fit', () => {
    const sizer = new ChunkSizer();
    sizer.report(1, Number.NaN);
    sizer.report(0, 1);
    sizer.report(1, -1);
    expect(sizer.growing).toBe(true);
    expect(sizer.size).toBe(1);
    settle(sizer, 0.0005);
    sizer.capBelow(300);
    expect(sizer.size).toBe(299);
    // For good: it does not grow past it again.
    settle(sizer, 0.0005);
    expect(sizer.size).toBe(299);
    expect(sizer.growing).toBe(false);
  });
});
