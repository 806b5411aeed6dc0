import { describe, expect, it } from 'vitest';
import { PrefetchGovernor } from './prefetchGovernor.ts';

describe('PrefetchGovernor', () => {
  it('holds one job per sandbox, plus the prefetch while the mean run time is under the limit', () => {
    const workers = [{ concurrency: 0 }, { concurrency: 0 }];
    const governor = new PrefetchGovernor(workers, { poolSize: 4, prefetch: 2, maxTaskMs: 100 });
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
    const governor = new PrefetchGovernor(workers, { poolSize: 1, prefetch: 1, maxTaskMs: 100 });
    governor.ran(150);
    expect(workers[0]!.concurrency).toBe(1);
  });

  it('sends runs ahead to each sandbox while the mean run time times the depth fits the budget', () => {
    const workers = [{ concurrency: 0 }];
    const pool = { depth: 1 };
    const governor = new PrefetchGovernor(workers, { poolSize: 2, prefetch: 1, maxTaskMs: 100, pipelineDepth: 8, pool });
    expect([workers[0]!.concurrency, pool.depth]).toEqual([2, 1]);
    // 0.1 ms per run: 2 ms / 0.1 = 20 runs, capped at 8; as many held ready in the supervisor (the double buffer).
    governor.ran(0.1);
    expect([workers[0]!.concurrency, pool.depth]).toEqual([2 * 8 * 2, 8]);
    // Mean 0.1 + 0.2 × (3 - 0.1) = 0.68 ms: 2 runs.
    governor.ran(3);
    expect([workers[0]!.concurrency, pool.depth]).toEqual([2 * 2 * 2, 2]);
    // Mean 0.68 + 0.2 × (20 - 0.68) ≈ 4.5 ms: one at a time, with the prefetch.
    governor.ran(20);
    expect([workers[0]!.concurrency, pool.depth]).toEqual([3, 1]);
  });

  it('holds at least the prefetch beyond the runs sent ahead', () => {
    const workers = [{ concurrency: 0 }];
    const pool = { depth: 1 };
    const governor = new PrefetchGovernor(workers, { poolSize: 2, prefetch: 10, maxTaskMs: 100, pipelineDepth: 4, pool });
    // 2 ms / 0.5 = 4 runs each: 8 sent, 10 held (the prefetch is more than the second batch of 8).
    governor.ran(0.5);
    expect([workers[0]!.concurrency, pool.depth]).toEqual([2 * 4 + 10, 4]);
    // Over the prefetch limit: neither the prefetch nor the runs ahead.
    const slow = new PrefetchGovernor(workers, { poolSize: 2, prefetch: 10, maxTaskMs: 0.1, pipelineDepth: 4, pool });
    slow.ran(0.5);
    expect([workers[0]!.concurrency, pool.depth]).toEqual([2 * 4, 4]);
  });

  it('never sends runs ahead with a depth of 1', () => {
    const workers = [{ concurrency: 0 }];
    const pool = { depth: 1 };
    const governor = new PrefetchGovernor(workers, { poolSize: 2, prefetch: 1, maxTaskMs: 100, pipelineDepth: 1, pool });
    governor.ran(0.01);
    expect([workers[0]!.concurrency, pool.depth]).toEqual([3, 1]);
  });
});
