import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { CancelledError, taskFailureOf, ValidationError, type MapItem, type MapProgress } from '@taskpool/core';
import { nap, QuotaExceededError, square, squarePlusOne } from './fixtures/mapTasks.ts';
import { eventually } from './helpers/spawnService.ts';
import { redisUrl } from './helpers/testRedis.ts';
import { useTestStack } from './helpers/useTestStack.ts';

const stack = useTestStack({ tasksModule: 'test/fixtures/mapTasks.ts', concurrency: 2, client: { errors: [QuotaExceededError] } });
const queue = new Queue('default', { connection: { url: redisUrl() }, prefix: stack.prefix });

afterAll(async () => {
  await queue.close();
});

const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i);

describe('map', () => {
  it('maps 10,000 inputs in chunks of 100, in input order: the same list as a local Array.map', async () => {
    const inputs = range(10_000);
    const progress: MapProgress[] = [];
    const results = await stack.client.map(square, inputs, { chunkSize: 100, onProgress: (p) => progress.push(p) }).toArray();
    expect(results).toEqual(inputs.map(squarePlusOne));
    expect(progress).toHaveLength(100);
    expect(progress.at(-1)).toEqual({ done: 10_000, failed: 0, total: 10_000 });
    expect(progress.map((p) => p.done)).toEqual(range(100, 1).map((k) => k * 100));
  });

  it('maps them unordered: the same set, each once', async () => {
    const inputs = range(10_000);
    const results = await stack.client.map(square, inputs, { chunkSize: 100, ordered: false }).toArray();
    expect(results).toHaveLength(10_000);
    expect([...results].sort((a, b) => a - b)).toEqual(inputs.map(squarePlusOne));
  });

  it('yields unordered results as jobs finish, not in input order', async () => {
    const inputs = [{ id: 'slow', ms: 1_500 }, { id: 'fast', ms: 10 }];
    const ids = (await stack.client.map(nap, inputs, { ordered: false }).toArray()).map((r) => r.id);
    expect(ids).toEqual(['fast', 'slow']);
  });

  it('sends chunkSize 1 as task jobs and larger chunks as chunk jobs, the kind in the envelope beside the inputs', async () => {
    const tag = 7_000_000 + Math.floor(Math.random() * 1_000_000);
    await stack.client.map(square, [tag], { chunkSize: 1 }).toArray();
    await stack.client.map(square, [tag + 1, tag + 2, tag + 3], { chunkSize: 3 }).toArray();
    const jobs = await queue.getJobs(['completed'], 0, -1);
    const single = jobs.find((j) => (j.data as { input?: unknown }).input === tag);
    expect(single?.data).toEqual({ v: 1, input: tag });
    expect(single?.returnvalue).toEqual({ v: 1, output: squarePlusOne(tag), runMs: expect.any(Number) });
    // A chunk carries its items as the JSON text of their array, and its outcomes the same way: the worker's
    // supervising process passes both on without parsing them (see jobData.ts).
    const chunk = jobs.find((j) => (j.data as { text?: string }).text === JSON.stringify([tag + 1, tag + 2, tag + 3]));
    expect(chunk?.data).toEqual({ v: 1, kind: 'chunk', text: JSON.stringify([tag + 1, tag + 2, tag + 3]) });
    const outcomes = [tag + 1, tag + 2, tag + 3].map((x) => ({ ok: true, value: squarePlusOne(x) }));
    expect(chunk?.returnvalue).toEqual({ v: 1, outputText: JSON.stringify(outcomes), runMs: expect.any(Number) });
  });

  it('still runs a chunk queued in the earlier form, its items as an array (`input`)', async () => {
    const tag = 8_000_000 + Math.floor(Math.random() * 1_000_000);
    const job = await queue.add(square.name, { v: 1, kind: 'chunk', input: [tag, tag + 1] });
    await eventually(async () => (await queue.getJob(job.id!))?.finishedOn !== undefined, 'the old-form chunk finished');
    const done = await queue.getJob(job.id!);
    expect(done?.returnvalue).toEqual({ v: 1, outputText: JSON.stringify([tag, tag + 1].map((x) => ({ ok: true, value: squarePlusOne(x) }))), runMs: expect.any(Number) });
    expect((await stack.client.getJob(job.id!))?.input).toEqual([tag, tag + 1]);
  });

  it('fails items on their own: throws at the first failed item by default, yields records with settled', async () => {
    const inputs = [1, 2, -3, 4, 1.5, 6];
    const seen: number[] = [];
    let thrown: unknown;
    try {
      for await (const value of stack.client.map(square, inputs, { chunkSize: 2 })) seen.push(value);
    } catch (error) {
      thrown = error;
    }
    expect(seen).toEqual([2, 5]);
    expect(thrown).toBeInstanceOf(QuotaExceededError);

    const items = await stack.client.map(square, inputs, { chunkSize: 2, settled: true }).toArray();
    expect(items.map((item) => (item.ok ? item.value : item.error.name))).toEqual([2, 5, 'QuotaExceededError', 17, 'ValidationError', 37]);
    expect(items.map((item) => item.index)).toEqual(range(6));
    const quota = failedItem(items[2]!);
    expect(quota).toBeInstanceOf(QuotaExceededError);
    expect((quota as QuotaExceededError).retryAfterMs).toBe(250);
    expect(taskFailureOf(quota)?.reason).toBe('error');
    // An invalid input fails locally and is never submitted: it has no job.
    const invalid = failedItem(items[4]!);
    expect(invalid).toBeInstanceOf(ValidationError);
    expect((invalid as ValidationError).code).toBe('INVALID_INPUT');
    expect(taskFailureOf(invalid)).toBeUndefined();
  });

  it('reads an async iterable lazily, and knows the total once it is exhausted', async () => {
    let read = 0;
    async function* inputs(): AsyncGenerator<number> {
      for (let i = 0; i < 500; i++) {
        read++;
        yield i;
      }
    }
    const run = stack.client.map(square, inputs(), { chunkSize: 7, window: 2 });
    expect(read).toBe(0);
    const totals: (number | undefined)[] = [];
    run.on('progress', (p) => totals.push(p.total));
    const results: number[] = [];
    for await (const value of run) {
      results.push(value);
      // Never more than window × chunkSize inputs read ahead of what was taken.
      expect(read - results.length).toBeLessThanOrEqual(2 * 7);
    }
    expect(results).toEqual(range(500).map(squarePlusOne));
    expect(totals[0]).toBeUndefined();
    expect(totals.at(-1)).toBe(500);
    expect(run.progress).toEqual({ done: 500, failed: 0, total: 500 });
  });

  it('keeps at most `window` jobs in Redis at a time', async () => {
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
        peak = Math.max(peak, counts.waiting! + counts.active! + counts.delayed! + counts.prioritized!);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const inputs = range(24).map((i) => ({ id: String(i), ms: 50 }));
    const results = await stack.client.map(nap, inputs, { window: 3 }).toArray();
    sampling = false;
    await sampler;
    expect(results.map((r) => r.id)).toEqual(inputs.map((i) => i.id));
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(3);
  });

  it('cancels its jobs still queued or running when the loop is left early', async () => {
    // Two sandboxes: the first result comes while the second input has been running for a while.
    const inputs = range(8).map((i) => ({ id: `early-${i}`, ms: i === 0 ? 300 : 4_000 }));
    const run = stack.client.map(nap, inputs, { window: 8 });
    for await (const first of run) {
      expect(first.id).toBe('early-0');
      break;
    }
    const mapJobs = async () => (await queue.getJobs(['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'], 0, -1)).filter((j) => (j.data as { input?: { id?: string } }).input?.id?.startsWith('early-'));
    // Those that had not started are removed at once.
    const left = await mapJobs();
    expect(left.length).toBeLessThanOrEqual(3);
    expect(await queue.getJobCounts('waiting', 'delayed', 'prioritized')).toEqual({ waiting: 0, delayed: 0, prioritized: 0 });
    await eventually(async () => (await queue.getJobCounts('active')).active === 0, 'no map job left running', 10_000);
    const ended = await mapJobs();
    const cancelled = ended.filter((j) => j.failedReason?.includes('cancelled'));
    // early-1 had been running for 300 ms: aborted. (One that started in the very instant of the cancel may,
    // in the worker, be missed and finish instead: a known worker race, not the client's.)
    expect(cancelled.map((j) => (j.data as { input: { id: string } }).input.id)).toContain('early-1');
    expect(ended.every((j) => j.finishedOn !== undefined)).toBe(true);
    await expect(stack.client.handle(nap, cancelled[0]!.id!).result()).rejects.toBeInstanceOf(CancelledError);
  });

  it('refuses a bad chunkSize or window, and a second iteration', async () => {
    expect(() => stack.client.map(square, [1], { chunkSize: 0 })).toThrow(RangeError);
    expect(() => stack.client.map(square, [1], { window: 1.5 })).toThrow(RangeError);
    const run = stack.client.map(square, [1]);
    expect(await run.toArray()).toEqual([2]);
    expect(() => run[Symbol.asyncIterator]()).toThrow(/once/);
  });
});

function failedItem(item: MapItem<number>): Error {
  if (item.ok) throw new Error(`item ${item.index} did not fail`);
  return item.error;
}
