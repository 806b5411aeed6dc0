import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { ValidationError } from '@taskpool/core';
import { SubmitBatcher, type JobToAdd } from '@taskpool/core/internal';
import { square, squarePlusOne } from './fixtures/mapTasks.ts';
import { redisUrl } from './helpers/testRedis.ts';
import { useTestStack } from './helpers/useTestStack.ts';

const stack = useTestStack({ tasksModule: 'test/fixtures/mapTasks.ts', concurrency: 2 });
const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i);

/** A real BullMQ queue that counts the calls the batcher makes. */
class CountingQueue extends Queue {
  adds = 0;
  bulks: number[] = [];
  override async add(...args: Parameters<Queue['add']>) {
    this.adds++;
    return super.add(...args);
  }
  override async addBulk(...args: Parameters<Queue['addBulk']>) {
    this.bulks.push(args[0].length);
    return super.addBulk(...args);
  }
}

const counting = new CountingQueue('batched', { connection: { url: redisUrl() }, prefix: stack.prefix });
afterAll(async () => {
  await counting.close();
});

const job = (i: number, opts: Partial<JobToAdd['opts']> = {}): JobToAdd => ({ name: 'map.square', data: { v: 1, input: i }, opts: { jobId: randomUUID(), ...opts } });

describe('pipelined submits', () => {
  it('resolves many concurrent submits each with its own handle and result', async () => {
    const inputs = range(300, 1_000);
    const handles = await Promise.all(inputs.map((x) => stack.client.submit(square, x)));
    expect(new Set(handles.map((h) => h.id)).size).toBe(300);
    const results = await Promise.all(handles.map((h) => h.result()));
    expect(results).toEqual(inputs.map(squarePlusOne));
  });

  it('rejects only the submit at fault: an invalid input before Redis, a job option BullMQ refuses in the batch', async () => {
    const submits = range(50).map((x) => {
      if (x === 10) return stack.client.submit(square, 'ten' as unknown as number);
      if (x === 20) return stack.client.submit(square, x, { priority: 1.5 });
      return stack.client.submit(square, x);
    });
    const settled = await Promise.allSettled(submits);
    const rejected = settled.flatMap((s, i) => (s.status === 'rejected' ? [[i, s.reason as Error] as const] : []));
    expect(rejected.map(([i]) => i)).toEqual([10, 20]);
    expect(rejected[0]![1]).toBeInstanceOf(ValidationError);
    expect(rejected[1]![1].message).toMatch(/[Pp]riority/);
    const handles = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    expect(await Promise.all(handles.map((h) => h.result()))).toEqual(range(50).filter((x) => x !== 10 && x !== 20).map(squarePlusOne));
  });

  it('sends the adds of one tick as one addBulk, and falls back to one add each when BullMQ refuses one of them', async () => {
    const batcher = new SubmitBatcher(() => counting);
    const jobs = range(40).map((i) => job(i));
    await Promise.all(jobs.map((j) => batcher.add('batched', j)));
    expect(counting.bulks).toEqual([40]);
    expect(counting.adds).toBe(0);
    expect(await counting.getJobCountByTypes('waiting')).toBe(40);

    // A lone add is sent as one.
    await batcher.add('batched', job(99));
    expect(counting.adds).toBe(1);

    counting.adds = 0;
    const mixed = range(10).map((i) => (i === 3 ? job(i, { priority: 1.5 }) : job(i)));
    const outcomes = await Promise.allSettled(mixed.map((j) => batcher.add('batched', j)));
    expect(outcomes.map((o) => o.status)).toEqual(range(10).map((i) => (i === 3 ? 'rejected' : 'fulfilled')));
    expect(counting.bulks).toEqual([40, 10]);
    expect(counting.adds).toBe(10);
    const stored = await Promise.all(mixed.map((j) => counting.getJob(j.opts.jobId)));
    expect(stored.map((s) => s !== undefined)).toEqual(range(10).map((i) => i !== 3));
  });
});
