import { setTimeout as delay } from 'node:timers/promises';
import type { TaskHandle } from '@taskpool/core';
import { describe, expect, it } from 'vitest';
import { timed } from './fixtures/agingTasks.ts';
import { useTestStack } from './helpers/useTestStack.ts';

// Priority aging (issue #16): under a stream of priority-1 jobs that keeps the worker busy, a priority-5 job starts
// within about 5 × agingMs (plus half of it for the aging timer), not after the stream.
const AGING_MS = 300;
const stack = useTestStack({ tasksModule: 'test/fixtures/agingTasks.ts', inlineConcurrency: 1, priorityAgingMs: AGING_MS });

describe('priority aging', () => {
  it('a priority-5 job under a constant stream of priority-1 jobs starts within 5 × agingMs, while the stream still waits', async () => {
    const high: Promise<TaskHandle<{ n: number; startedAt: number }>>[] = [];
    // 100 submits a second of 15 ms jobs: more than one worker slot runs, so priority-1 jobs are always waiting.
    const streamUntil = Date.now() + 4_000;
    const stream = (async () => {
      for (let n = 0; Date.now() < streamUntil; n++) {
        high.push(stack.client.submit(timed, { n, ms: 15 }, { priority: 1 }));
        await delay(10);
      }
    })();
    await delay(300);
    const submittedAt = Date.now();
    const low = await stack.client.submit(timed, { n: -1, ms: 1 }, { priority: 5 });
    const { startedAt } = await low.result({ timeoutMs: 30_000 });
    await stream;
    const highStarts = await Promise.all((await Promise.all(high)).map(async (h) => (await h.result({ timeoutMs: 60_000 })).startedAt));
    const waitedMs = startedAt - submittedAt;
    const stillWaiting = highStarts.filter((at) => at > startedAt).length;
    console.info(`priority aging: the priority-5 job waited ${waitedMs} ms (bound ~${5 * AGING_MS + AGING_MS / 2} ms); ${stillWaiting} priority-1 jobs started after it`);
    expect(waitedMs).toBeLessThan(5 * AGING_MS + AGING_MS / 2 + 700);
    // The stream was still queued: aging, not the end of the stream, let it run.
    expect(stillWaiting).toBeGreaterThan(20);
  });
});
