import { Queue, type Job } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { ValidationError } from '@taskpool/core';
import { nap, QuotaExceededError, square, squarePlusOne } from './fixtures/mapTasks.ts';
import { redisUrl } from './helpers/testRedis.ts';
import { useTestStack } from './helpers/useTestStack.ts';

const stack = useTestStack({ tasksModule: 'test/fixtures/mapTasks.ts', concurrency: 2, client: { errors: [QuotaExceededError] } });
const queue = new Queue('default', { connection: { url: redisUrl() }, prefix: stack.prefix });

afterAll(async () => {
  await queue.close();
});

const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i);

/** The jobs a map added: those completed since `before` (this file's tests run one at a time on their own prefix). */
async function jobsSince(before: Set<string>): Promise<Job[]> {
  const jobs = await queue.getJobs(['completed', 'failed'], 0, -1);
  return jobs.filter((job) => !before.has(job.id!));
}

/** A chunk job's items (its data carries them as JSON text, see jobData.ts), or undefined for a task's job. */
function chunkItems(job: Job | undefined): number[] | undefined {
  const data = job?.data as { kind?: string; text?: string } | undefined;
  return data?.kind === 'chunk' ? (JSON.parse(data.text!) as number[]) : undefined;
}

async function jobIds(): Promise<Set<string>> {
  return new Set((await queue.getJobs(['completed', 'failed'], 0, -1)).map((job) => job.id!));
}

describe("map with chunkSize 'auto' (the default)", () => {
  it('grows the chunks of tiny tasks: 20,000 items in far fewer jobs, results complete and in order', async () => {
    const before = await jobIds();
    const inputs = range(20_000);
    const results = await stack.client.map(square, inputs).toArray();
    expect(results).toEqual(inputs.map(squarePlusOne));
    const jobs = await jobsSince(before);
    const sizes = jobs.map((job) => chunkItems(job)?.length ?? 1);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(20_000);
    expect(jobs.length).toBeLessThan(200);
    expect(Math.max(...sizes)).toBeGreaterThan(500);
    // Every job's result says how long its run took in the worker: what the sizing reads.
    expect(jobs.every((job) => typeof (job.returnvalue as { runMs?: unknown }).runMs === 'number')).toBe(true);
  });

  it('gives unordered results complete too', async () => {
    const inputs = range(5_000, 100);
    const results = await stack.client.map(square, inputs, { ordered: false }).toArray();
    expect([...results].sort((a, b) => a - b)).toEqual(inputs.map(squarePlusOne));
  });

  it('stays at one item per job, sent as task jobs, for tasks of ~50 ms', async () => {
    const before = await jobIds();
    const inputs = range(12).map((i) => ({ id: `long-${i}`, ms: 50 }));
    const results = await stack.client.map(nap, inputs).toArray();
    expect(results.map((r) => r.id)).toEqual(inputs.map((i) => i.id));
    const jobs = await jobsSince(before);
    expect(jobs).toHaveLength(12);
    expect(jobs.every((job) => (job.data as { kind?: string }).kind === undefined)).toBe(true);
  });

  it('reports an error of one item of an auto chunk for that item only', async () => {
    const before = await jobIds();
    const inputs = range(20_000);
    inputs[15_000] = -15_000;
    inputs[12_345] = 1.5;
    const items = await stack.client.map(square, inputs, { settled: true }).toArray();
    expect(items.map((item) => item.index)).toEqual(range(20_000));
    const failed = items.filter((item) => !item.ok);
    expect(failed.map((item) => item.index)).toEqual([12_345, 15_000]);
    expect(failed[0]!.ok ? undefined : failed[0]!.error).toBeInstanceOf(ValidationError);
    expect(failed[1]!.ok ? undefined : failed[1]!.error).toBeInstanceOf(QuotaExceededError);
    expect(items.filter((item) => item.ok).every((item) => item.ok && item.value === squarePlusOne(inputs[item.index]!))).toBe(true);
    // The failing item travelled in a chunk of many, which completed.
    const holder = (await jobsSince(before)).find((job) => chunkItems(job)?.includes(-15_000));
    expect((holder?.data as { kind?: string }).kind).toBe('chunk');
    expect(chunkItems(holder)!.length).toBeGreaterThan(100);
    expect(await holder?.getState()).toBe('completed');
  });

  it("throws at the failed item by default, and sends one item per job when the map retries (attempts > 1)", async () => {
    const inputs = range(3_000);
    inputs[2_500] = -1;
    const seen: number[] = [];
    await expect(async () => {
      for await (const value of stack.client.map(square, inputs)) seen.push(value);
    }).rejects.toBeInstanceOf(QuotaExceededError);
    expect(seen).toEqual(range(2_500).map(squarePlusOne));

    const before = await jobIds();
    const retried = await stack.client.map(square, range(20, 50_000), { attempts: 2 }).toArray();
    expect(retried).toEqual(range(20, 50_000).map(squarePlusOne));
    // (The map above cancelled its jobs left: one may still finish meanwhile, so this map's jobs are found by input.)
    const mine = (await jobsSince(before))
      .map((job) => chunkItems(job) ?? (job.data as { input: number }).input)
      .filter((input) => (Array.isArray(input) ? input.some((x) => x >= 50_000) : input >= 50_000));
    // One task job per input: a chunk job of this map would show here as an array.
    expect(mine.sort()).toEqual(range(20, 50_000));
  });

  it("refuses a chunkSize that is neither 'auto' nor a positive integer", () => {
    expect(() => stack.client.map(square, [1], { chunkSize: 'big' as unknown as 'auto' })).toThrow(RangeError);
  });
});
