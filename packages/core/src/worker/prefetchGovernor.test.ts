import { describe, expect, it } from 'vitest';
import { PrefetchGovernor } from './prefetchGovernor.ts';

describe('PrefetchGovernor', () => {
  it('holds one job per sandbox, plus the prefetch while the mean run time is under the limit', () => {
    const workers = [{ concurrency: 0 }, { concurrency: 0 }];
    const governor = new PrefetchGovernor(workers, 4, 2, 100);
    // Off until a run was measured.
    expect(workers.map((w) => w.concurrency)).toEqual([4, 4]);
    governor.ran(5);
    expect(workers.map((w) => w.concurrency)).toEqual([6, 6]);
    expect(governor.concurrency).toBe(6);
    // The first long run moves the mean (weight 0.2) from 5 to 124: over the limit.
    governor.ran(600);
    expect(workers.map((w) => w.concurrency)).toEqual([4, 4]);
    // Short runs bring it back under: 124 → 99.6 after one run of 2 ms.
    governor.ran(2);
    expect(workers.map((w) => w.concurrency)).toEqual([6, 6]);
  });

  it('starts from the first run time', () => {
    const workers = [{ concurrency: 0 }];
    const governor = new PrefetchGovernor(workers, 1, 1, 100);
    governor.ran(150);
    expect(workers[0]!.concurrency).toBe(1);
  });
});
