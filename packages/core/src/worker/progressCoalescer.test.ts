import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProgressCoalescer } from './progressCoalescer.ts';

describe('ProgressCoalescer', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends the first value at once, then at most one per interval, always the latest', async () => {
    const sent: unknown[] = [];
    const coalescer = new ProgressCoalescer({ send: async (value) => void sent.push(value), intervalMs: 100 });
    coalescer.push(0);
    // 10,000 reports a second for one second.
    for (let i = 1; i <= 10_000; i++) {
      coalescer.push(i);
      if (i % 10 === 0) await vi.advanceTimersByTimeAsync(1);
    }
    await vi.advanceTimersByTimeAsync(100);
    expect(sent[0]).toBe(0);
    expect(sent.length).toBeGreaterThanOrEqual(10);
    expect(sent.length).toBeLessThanOrEqual(12);
    expect(sent.at(-1)).toBe(10_000);
    expect([...sent].sort((a, b) => Number(a) - Number(b))).toEqual(sent);
  });

  it('flush sends the pending value at once and waits for it; later reports are dropped', async () => {
    const sent: unknown[] = [];
    let finish: () => void = () => undefined;
    const coalescer = new ProgressCoalescer({
      send: (value) => {
        sent.push(value);
        return new Promise<void>((resolve) => (finish = resolve));
      },
      intervalMs: 100,
    });
    coalescer.push({ step: 1 });
    coalescer.push({ step: 2 });
    coalescer.push({ step: 3 });
    let flushed = false;
    const flushing = coalescer.flush().then(() => (flushed = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toEqual([{ step: 1 }]);
    finish();
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toEqual([{ step: 1 }, { step: 3 }]);
    expect(flushed).toBe(false);
    finish();
    await flushing;
    coalescer.push({ step: 4 });
    await vi.advanceTimersByTimeAsync(500);
    expect(sent).toEqual([{ step: 1 }, { step: 3 }]);
  });

  it('keeps going after a failed send', async () => {
    const sent: unknown[] = [];
    const coalescer = new ProgressCoalescer({
      send: async (value) => {
        sent.push(value);
        if (value === 1) throw new Error('Redis away');
      },
      intervalMs: 100,
    });
    coalescer.push(1);
    await vi.advanceTimersByTimeAsync(150);
    coalescer.push(2);
    await coalescer.flush();
    expect(sent).toEqual([1, 2]);
  });
});
