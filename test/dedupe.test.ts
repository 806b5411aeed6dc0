import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { ValidationError } from '@taskpool/core';
import { afterAll, describe, expect, it } from 'vitest';
import { plain, record } from './fixtures/dedupeTasks.ts';
import { rejectionOf } from './helpers/rejectionOf.ts';
import { useTestStack } from './helpers/useTestStack.ts';

// Deduplication (issue #16): submits of one task with one key inside the window share the first one's job,
// whichever client or process makes them. Executions are counted from each run's line in a log.
const stack = useTestStack({ tasksModule: 'test/fixtures/dedupeTasks.ts', concurrency: 2 });
const dir = mkdtempSync(join(tmpdir(), 'tp-dedupe-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runs(log: string): string[] {
  try {
    return readFileSync(log, 'utf8').trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

describe('dedupe', () => {
  it('90 concurrent submits from three clients over 5 keys make 5 jobs, each run once, every handle on its key\'s job', async () => {
    const log = join(dir, 'concurrent.log');
    const clients = [stack.client, stack.createClient(), stack.createClient()];
    const submits = clients.flatMap((client, c) =>
      Array.from({ length: 30 }, (_, i) => ({ userId: `u${i % 5}`, n: c * 100 + i, submit: () => client.submit(record, { userId: `u${i % 5}`, n: c * 100 + i, log }) })),
    );
    const handles = await Promise.all(submits.map((s) => s.submit()));
    const idsByKey = new Map<string, Set<string>>();
    handles.forEach((handle, i) => {
      const key = submits[i]!.userId;
      if (!idsByKey.has(key)) idsByKey.set(key, new Set());
      idsByKey.get(key)!.add(handle.id);
    });
    expect([...idsByKey.values()].map((ids) => ids.size)).toEqual([1, 1, 1, 1, 1]);
    expect(new Set(handles.map((h) => h.id)).size).toBe(5);
    const results = await Promise.all(handles.map((h) => h.result({ timeoutMs: 20_000 })));
    // Every handle of a key gets the one run's output: the input of whichever submit won.
    const ran = runs(log);
    expect(ran).toHaveLength(5);
    results.forEach((result, i) => {
      expect(result.userId).toBe(submits[i]!.userId);
      expect(ran).toContain(`${result.userId}:${result.n}`);
    });
  });

  it("a submit's own key dedupes a task that declares none; `dedupe: false` turns a declared one off", async () => {
    const log = join(dir, 'override.log');
    const [a, b] = await Promise.all([
      stack.client.submit(plain, { userId: 'x', n: 1, log }, { dedupe: { key: 'x' } }),
      stack.createClient().submit(plain, { userId: 'x', n: 2, log }, { dedupe: { key: 'x' } }),
    ]);
    expect(a.id).toBe(b.id);
    const c = await stack.client.submit(plain, { userId: 'x', n: 3, log });
    expect(c.id).not.toBe(a.id);
    const d = await stack.client.submit(record, { userId: 'solo', n: 4, log }, { dedupe: false });
    const e = await stack.client.submit(record, { userId: 'solo', n: 5, log }, { dedupe: false });
    expect(d.id).not.toBe(e.id);
    await Promise.all([a, c, d, e].map((h) => h.result({ timeoutMs: 20_000 })));
    expect(runs(log)).toHaveLength(4);
  });

  it('after the window a submit makes a new job', async () => {
    const log = join(dir, 'window.log');
    const started = performance.now();
    const first = await stack.client.submit(plain, { userId: 'w', n: 0, log }, { dedupe: { key: 'w', ttlMs: 300 } });
    let n = 1;
    let next = first;
    // Polled with a deadline: each submit inside the window is deduplicated (enqueues nothing).
    while (next.id === first.id && performance.now() - started < 10_000) {
      await delay(25);
      next = await stack.client.submit(plain, { userId: 'w', n: n++, log }, { dedupe: { key: 'w', ttlMs: 300 } });
    }
    expect(next.id).not.toBe(first.id);
    expect(performance.now() - started).toBeGreaterThanOrEqual(300);
    await Promise.all([first, next].map((h) => h.result({ timeoutMs: 20_000 })));
    expect(runs(log)).toEqual(['w:0', `w:${n - 1}`]);
  });

  it('a key that is not a non-empty string is a ValidationError, and nothing is enqueued', async () => {
    const log = join(dir, 'bad.log');
    const error = await rejectionOf(stack.client.submit(plain, { userId: 'z', n: 0, log }, { dedupe: { key: '' } }), ValidationError);
    expect(error.code).toBe('INVALID_INPUT');
    expect(runs(log)).toEqual([]);
  });
});
