import { Queue, Job, raw2NextJobData, type JobJson } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { finishJobs, queueKey, takeJobs, type LeanQueue } from '@taskpool/core/internal';
import { connectRedis, currentTestPrefix, redisUrl } from './helpers/testRedis.ts';

// The lean lane's two scripts (store/leanLane.ts) on BullMQ's own structures: what they leave must read, through
// BullMQ's own API, as what its moveToActive and moveToFinished leave, and they must refuse what is BullMQ's.
const prefix = currentTestPrefix();
const redis = await connectRedis(redisUrl());
const queues: Queue[] = [];
afterAll(async () => {
  await Promise.all(queues.map(async (q) => (await q.obliterate({ force: true }), await q.close())));
  await redis.quit();
});

let serial = 0;
async function freshQueue(): Promise<{ queue: Queue; lane: LeanQueue }> {
  const name = `lean-${++serial}`;
  const queue = new Queue(name, { connection: { url: redisUrl() }, prefix });
  queues.push(queue);
  return { queue, lane: { redis, prefix, queue: name } };
}

/** The ids of `wait`, oldest first: what a worker's previous call would have given back. */
async function oldest(lane: LeanQueue, n: number): Promise<string[]> {
  return (await redis.lrange(queueKey(prefix, lane.queue, 'wait'), -n, -1)).reverse();
}

const take = (lane: LeanQueue, candidates: string[], token = 'tok-1') => takeJobs(lane, candidates, { token, lockMs: 5_000, workerName: 'w1', count: 8 });

describe('takeJobs', () => {
  it('moves the oldest jobs to active under one lock token, as BullMQ fetches, and gives back the next candidates', async () => {
    const { queue, lane } = await freshQueue();
    const added = await queue.addBulk(Array.from({ length: 5 }, (_, i) => ({ name: 'noop', data: { i }, opts: { attempts: 3 } })));
    const result = await take(lane, await oldest(lane, 3));
    if (result.fallback) throw new Error('unexpected fallback');
    expect(result.taken.map((t) => t.id)).toEqual(added.slice(0, 3).map((j) => j.id));
    // The hash decodes as BullMQ's fetch decodes it (opts included: a retry needs `attempts`).
    const json = (raw2NextJobData([result.taken[0]!.fields]) as [JobJson])[0];
    expect(json).toMatchObject({ name: 'noop', attemptsStarted: 1, processedBy: 'w1', opts: { attempts: 3 } });
    expect(result.candidates).toEqual(added.slice(3).map((j) => j.id));
    for (const job of added.slice(0, 3)) {
      expect(await redis.get(`${prefix}:${lane.queue}:${job.id}:lock`)).toBe('tok-1');
      expect(await queue.getJobState(job.id!)).toBe('active');
    }
    expect(await queue.getJobCounts('wait', 'active')).toEqual({ wait: 2, active: 3 });
    const events = await redis.xrange(queueKey(prefix, lane.queue, 'events'), '-', '+');
    expect(events.filter(([, fields]) => fields[1] === 'active')).toHaveLength(3);
  });

  it('skips candidates another worker took, and takes nothing behind one', async () => {
    const { queue, lane } = await freshQueue();
    await queue.addBulk(Array.from({ length: 4 }, (_, i) => ({ name: 'noop', data: { i } })));
    const seen = await oldest(lane, 4);
    const first = await take(lane, seen.slice(0, 2), 'tok-a');
    expect(!first.fallback && first.taken.length).toBe(2);
    // A second worker with the same (now stale) candidates.
    const second = await take(lane, seen, 'tok-b');
    expect(!second.fallback && second.taken.length).toBe(0);
    expect(await queue.getJobCounts('wait', 'active')).toEqual({ wait: 2, active: 2 });
  });

  it("leaves a paused queue, a rate-limited queue and a due delayed job to BullMQ's own fetch", async () => {
    const { queue, lane } = await freshQueue();
    await queue.add('noop', {});
    await queue.pause();
    expect(await take(lane, await oldest(lane, 1))).toEqual({ fallback: true });
    await queue.resume();
    await queue.setGlobalRateLimit(10, 1_000);
    expect(await take(lane, await oldest(lane, 1))).toEqual({ fallback: true });
    await queue.removeGlobalRateLimit();
    await queue.add('later', {}, { delay: 1 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await take(lane, await oldest(lane, 1))).toEqual({ fallback: true });
  });
});

describe('finishJobs', () => {
  it('completes taken jobs in one call as BullMQ completes them, and refuses a job whose lock is not the caller’s', async () => {
    const { queue, lane } = await freshQueue();
    const added = await queue.addBulk(Array.from({ length: 4 }, (_, i) => ({ name: 'noop', data: { i } })));
    const taken = await take(lane, await oldest(lane, 4));
    if (taken.fallback) throw new Error('unexpected fallback');
    const [a, b, c, d] = added.map((j) => j.id!);
    // d: its lock lost to another worker; c: its lock gone.
    await redis.set(`${prefix}:${lane.queue}:${d}:lock`, 'someone-else');
    await redis.del(`${prefix}:${lane.queue}:${c}:lock`);
    const result = await finishJobs(lane, [a!, b!, c!, d!].map((id, i) => ({ id, token: 'tok-1', returnValue: JSON.stringify({ v: i }) })), 8);
    expect(result.codes).toEqual([0, 0, -2, -6]);
    const done = await Job.fromId(queue, a!);
    expect(done).toMatchObject({ returnvalue: { v: 0 }, attemptsMade: 1, attemptsStarted: 1 });
    expect(done?.finishedOn).toEqual(expect.any(Number));
    expect(await queue.getJobState(a!)).toBe('completed');
    expect(await queue.getJobState(d!)).toBe('active');
    expect(await queue.getJobCounts('completed', 'active')).toEqual({ completed: 2, active: 2 });
    const events = await redis.xrange(queueKey(prefix, lane.queue, 'events'), '-', '+');
    const completed = events.filter(([, fields]) => fields[1] === 'completed');
    expect(completed.map(([, fields]) => fields[3])).toEqual([a, b]);
    expect(completed[0]![1]).toContain(JSON.stringify({ v: 0 }));
  });

  it('adds the drained event once nothing waits or runs', async () => {
    const { queue, lane } = await freshQueue();
    const [job] = await queue.addBulk([{ name: 'noop', data: {} }]);
    await take(lane, [job!.id!]);
    const result = await finishJobs(lane, [{ id: job!.id!, token: 'tok-1', returnValue: 'null' }], 8);
    expect(result).toEqual({ codes: [0], candidates: [] });
    const events = await redis.xrange(queueKey(prefix, lane.queue, 'events'), '-', '+');
    expect(events.at(-1)![1]).toEqual(['event', 'drained']);
  });
});
