import { describe, expect, it } from 'vitest';
import { queueOf } from '@taskpool/core';
import { progressSpam, quick } from './fixtures/progressTasks.ts';
import { useTestStack } from './helpers/useTestStack.ts';
import { connectRedis, redisUrl } from './helpers/testRedis.ts';

const stack = useTestStack({ tasksModule: 'test/fixtures/progressTasks.ts', concurrency: 2 });

const SPAM_MS = 4_000;

describe('a handler calling ctx.progress over 10,000 times a second', () => {
  it("is coalesced: other jobs' completions stay in the event stream and arrive, and the last value arrives", async () => {
    const spam = await stack.client.submit(progressSpam, { ms: SPAM_MS });
    const seen: unknown[] = [];
    spam.onProgress((value) => seen.push(value));
    // Meanwhile, another task's jobs complete one after the other, read by the client.
    const quickIds: string[] = [];
    const quickResults: number[] = [];
    const started = Date.now();
    for (let n = 0; Date.now() - started < SPAM_MS - 500; n++) {
      const handle = await stack.client.submit(quick, { n });
      quickIds.push(handle.id);
      quickResults.push((await handle.result({ timeoutMs: 20_000 })).n);
    }
    const { calls } = await spam.result({ timeoutMs: 30_000 });
    expect(calls, "at least 10,000 calls a second").toBeGreaterThan(SPAM_MS * 10);
    expect(quickResults).toEqual(quickIds.map((_, n) => n));
    expect(quickIds.length).toBeGreaterThan(5);
    // The last value reported reached the client, before the result.
    expect(seen.at(-1)).toBe(calls - 1);

    await using redis = await connectRedis(redisUrl());
    const entries = await redis.xrange(`${stack.prefix}:${queueOf(quick)}:events`, '-', '+');
    // Each entry's id starts with the ms it was written at.
    const events = entries.map(([id, fields]): { ms: number; event?: string; jobId?: string; data?: string } => ({
      ...Object.fromEntries(fields.reduce<[string, string][]>((pairs, v, i) => (i % 2 ? pairs : [...pairs, [v, fields[i + 1]!]]), [])),
      ms: Number(id.split('-')[0]),
    }));
    // No completion of the other task was pushed out of the trimmed stream.
    const completed = new Set(events.filter((e) => e.event === 'completed').map((e) => e.jobId));
    expect(quickIds.filter((id) => !completed.has(id)), 'completions trimmed out of the event stream').toEqual([]);
    const progressEvents = events.filter((e) => e.event === 'progress' && e.jobId === spam.id);
    // At most 10 a second over the time they were written (plus the first and the flushed last), not one per
    // call. (The supervisor may still be draining the sandbox's messages after SPAM_MS on a loaded machine.)
    const spanMs = progressEvents.at(-1)!.ms - progressEvents[0]!.ms;
    expect(spanMs).toBeGreaterThanOrEqual(SPAM_MS - 1_000);
    expect(progressEvents.length).toBeLessThanOrEqual(Math.floor(spanMs / 100) + 3);
    expect(progressEvents.at(-1)?.data).toBe(String(calls - 1));
  });
});
