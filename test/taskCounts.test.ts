import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { TaskJobCounts } from '@taskpool/core';
import { COUNTED_FIELD, countAdded, countCompleted, countSetKey, jobKey, minuteStatsKey, readLastHour, readTaskCounts, syncJobCounts, type RedisClient } from '@taskpool/core/internal';
import { startTestWorker } from '@taskpool/core/testing';
import { describe, expect, it } from 'vitest';
import { flaky, sleep, sumSqrt } from './fixtures/producerTasks.ts';
import { useProducerStack } from './helpers/producerStack.ts';
import { eventually } from './helpers/spawnService.ts';
import { connectRedis, redisUrl } from './helpers/testRedis.ts';

const stack = useProducerStack();
const { prefix } = stack;

/**
 * A task's counts in the queue `default`, as kept by the client, worker and admin alone (no repair of drift), unless
 * `repair`: as `admin.taskCounts()` reads them.
 */
async function countsOf(task: string, repair = false): Promise<TaskJobCounts['counts'] & { failures: TaskJobCounts['failures'] }> {
  const rows = await readTaskCounts(stack.admin.redis, { prefix, queue: 'default', failedWindowMs: 7 * 24 * 3_600_000, repair });
  const found = rows.find((row) => row.task === task);
  const failed = found?.failures.reduce((n, g) => n + g.count, 0) ?? 0;
  return { waiting: 0, active: 0, delayed: 0, prioritized: 0, ...found, failed, failures: found?.failures ?? [] };
}

/** Keys under the prefix matching a glob (SCAN). */
async function keysLike(pattern: string): Promise<string[]> {
  await using redis = await connectRedis(redisUrl());
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, page] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    keys.push(...page);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

describe('per-task counts, kept as jobs move', () => {
  it('follows jobs from submit to outcome: waiting, delayed, prioritized, active, retried, failed by reason, cancelled, removed behind its back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tp-counts-'));
    const marker = join(dir, 'marker');
    try {
      const { client } = stack;
      // No worker yet: everything waits.
      const sleeping = await Promise.all([1, 2, 3].map(() => client.submit(sleep, { ms: 60_000 })));
      const later = await Promise.all([1, 2].map(() => client.submit(sleep, { ms: 1 }, { delayMs: 600_000 })));
      await client.submit(sleep, { ms: 1 }, { priority: 5, delayMs: 0 });
      const flakies = await Promise.all(
        ['a', 'b'].map((label) => client.submit(flaky, { marker, label }, { attempts: 2, backoff: { type: 'fixed', delayMs: 600_000 } })),
      );
      expect(await countsOf('test.sleep')).toMatchObject({ waiting: 3, delayed: 2, prioritized: 1, active: 0, failed: 0 });
      expect(await countsOf('test.flaky')).toMatchObject({ waiting: 2, failed: 0 });

      // A cancel of a waiting job, and a removal no taskpool code sees (BullMQ's own remove): both leave the counts.
      expect(await stack.admin.cancelJob(sleeping[2]!.id)).toMatchObject({ outcome: 'removed' });
      const raw = new Queue('default', { connection: stack.admin.redis, prefix });
      try {
        expect(await raw.remove(later[1]!.id)).toBe(1);
      } finally {
        await raw.close();
      }
      expect(await countsOf('test.sleep', true)).toMatchObject({ waiting: 2, delayed: 1, prioritized: 1 });
      expect((await stack.admin.taskCounts())[0]?.tasks.find((t) => t.task === 'test.sleep')?.counts).toMatchObject({ waiting: 2, delayed: 1, prioritized: 1 });

      await using worker = await startTestWorker({ redisUrl: redisUrl(), prefix, tasksModule: 'test/fixtures/producerTasks.ts', concurrency: 6 });
      expect(worker.concurrency).toBe(6);
      // The prioritized sleep finishes; two sleeps run; each flaky fails once and waits 10 min for its retry (delayed).
      await eventually(async () => {
        const s = await countsOf('test.sleep');
        const f = await countsOf('test.flaky');
        return s.active === 2 && s.waiting === 0 && s.prioritized === 0 && f.delayed === 2 && f.active === 0;
      }, 'two sleeps running, the flaky ones delayed for their retry');
      expect(await countsOf('test.sleep')).toMatchObject({ waiting: 0, delayed: 1, prioritized: 0, active: 2, failed: 0 });

      // Their retry fails for good: failed, grouped by reason with the latest message.
      await Promise.all(flakies.map(async (h) => (await stack.admin.queue('default').getJob(h.id))!.promote()));
      await eventually(async () => (await countsOf('test.flaky')).failed === 2, 'both flaky jobs failed');
      expect(await countsOf('test.flaky')).toMatchObject({
        waiting: 0,
        delayed: 0,
        active: 0,
        failures: [{ reason: 'error', count: 2, message: expect.stringMatching(/marker file missing for [ab]/) }],
      });

      // Cancelling the running sleeps: failed as cancelled.
      await Promise.all(sleeping.slice(0, 2).map((h) => h.cancel()));
      await eventually(async () => (await countsOf('test.sleep')).active === 0, 'the sleeps cancelled');
      expect((await countsOf('test.sleep')).failures).toEqual([{ reason: 'cancelled', count: 2, message: expect.any(String) }]);

      // A retried failed job leaves the failed count, runs and completes.
      await writeFile(marker, '');
      expect(await stack.admin.retryFailed('test.flaky', 'default')).toBe(2);
      await eventually(async () => (await countsOf('test.flaky')).failed === 0, 'the flaky jobs retried');
      await Promise.all(flakies.map((h) => h.result({ timeoutMs: 20_000 })));

      // The worker counts an outcome after BullMQ has recorded it (and the client has seen it): wait for the count.
      await eventually(async () => (await readLastHour(stack.admin.redis, prefix, ['test.flaky'])).get('test.flaky')?.completed === 2, 'both flaky completions counted');
      const hour = (await readLastHour(stack.admin.redis, prefix, ['test.flaky', 'test.sleep'])).get('test.flaky')!;
      expect(hour).toMatchObject({ completed: 2, failed: 2, failuresByReason: { error: 2 } });
      expect((await readLastHour(stack.admin.redis, prefix, ['test.sleep'])).get('test.sleep')).toMatchObject({ completed: 1, failed: 2, failuresByReason: { cancelled: 2 } });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('writes one statistics hash per minute, not a key per finished job, and counts an outcome once however often it is synced', async () => {
    const handles = await Promise.all(Array.from({ length: 20 }, (_, n) => stack.client.submit(sumSqrt, { n: n + 1 })));
    await using worker = await startTestWorker({ redisUrl: redisUrl(), prefix, tasksModule: 'test/fixtures/producerTasks.ts', concurrency: 2 });
    expect(worker.queues).toContain('default');
    await Promise.all(handles.map((h) => h.result({ timeoutMs: 20_000 })));
    const statsKeys = await keysLike(`${prefix}:tp:stats:*`);
    // This test's minute, perhaps the one before (the file's first test): never one per job.
    expect(statsKeys.length).toBeGreaterThanOrEqual(1);
    expect(statsKeys.length).toBeLessThanOrEqual(3);
    expect(statsKeys.every((key) => /:tp:stats:\d+$/.test(key))).toBe(true);

    const before = await readLastHour(stack.admin.redis, prefix, ['test.sumSqrt']);
    expect(before.get('test.sumSqrt')).toMatchObject({ completed: 20, failed: 0 });
    const jobs = handles.map((h) => ({ queue: 'default', jobId: h.id, task: 'test.sumSqrt' }));
    await syncJobCounts(stack.admin.redis, prefix, jobs);
    await syncJobCounts(stack.admin.redis, prefix, jobs);
    await countCompleted(stack.admin.redis, prefix, jobs);
    expect(await readLastHour(stack.admin.redis, prefix, ['test.sumSqrt'])).toEqual(before);

    // The completion's own script (a few keys) places a job still counted as queued, once, as the general one would.
    const [first] = jobs;
    const queued = countSetKey(prefix, 'default', 'test.sumSqrt', 'queued');
    await stack.admin.redis.hset(jobKey(prefix, 'default', first!.jobId), COUNTED_FIELD, 'q');
    await stack.admin.redis.zadd(queued, Date.now(), first!.jobId);
    await countCompleted(stack.admin.redis, prefix, [first!]);
    await countCompleted(stack.admin.redis, prefix, [first!]);
    expect(await stack.admin.redis.zscore(queued, first!.jobId)).toBeNull();
    expect(await stack.admin.redis.hget(jobKey(prefix, 'default', first!.jobId), COUNTED_FIELD)).toBe('d');
    expect((await readLastHour(stack.admin.redis, prefix, ['test.sumSqrt'])).get('test.sumSqrt')).toMatchObject({ completed: 21 });

    // One call for a batch (what the worker sends): each job placed on its own, one counted already left alone,
    // and one the short script cannot place (counted as failed) handed to the general script.
    const [, second, third, fourth] = jobs;
    await stack.admin.redis.hset(jobKey(prefix, 'default', second!.jobId), COUNTED_FIELD, 'q');
    await stack.admin.redis.zadd(queued, Date.now(), second!.jobId);
    const failedSet = countSetKey(prefix, 'default', 'test.sumSqrt', 'failed:error');
    await stack.admin.redis.hset(jobKey(prefix, 'default', fourth!.jobId), COUNTED_FIELD, 'f:error');
    await stack.admin.redis.zadd(failedSet, Date.now(), fourth!.jobId);
    await countCompleted(stack.admin.redis, prefix, [second!, third!, fourth!]);
    for (const job of [second!, third!, fourth!]) expect(await stack.admin.redis.hget(jobKey(prefix, 'default', job.jobId), COUNTED_FIELD)).toBe('d');
    expect(await stack.admin.redis.zscore(queued, second!.jobId)).toBeNull();
    expect(await stack.admin.redis.zscore(failedSet, fourth!.jobId)).toBeNull();
    expect((await readLastHour(stack.admin.redis, prefix, ['test.sumSqrt'])).get('test.sumSqrt')).toMatchObject({ completed: 23 });
    expect(minuteStatsKey(prefix, Date.now())).toMatch(new RegExp(`^${prefix}:tp:stats:\\d+$`));
  });

  it('counts a batch of plain adds in one call: a new job as queued; one counted, gone or finished by its state', async () => {
    const raw = new Queue('adds', { connection: stack.admin.redis, prefix });
    try {
      const task = 'test.adds';
      const [plain, second, counted, finished] = await Promise.all([raw.add(task, {}), raw.add(task, {}), raw.add(task, {}), raw.add(task, {})]);
      const redis = stack.admin.redis;
      const key = (id: string | undefined): string => jobKey(prefix, 'adds', id!);
      await redis.hset(key(counted!.id), COUNTED_FIELD, 'd');
      // Finished before its add was counted (a worker's count is batched): the general script places it.
      await redis.zadd(`${prefix}:adds:completed`, Date.now(), finished!.id!);
      await redis.hset(key(finished!.id), 'finishedOn', Date.now(), 'processedOn', Date.now());
      const jobs = [plain, second, counted, finished].map((job) => ({ queue: 'adds', jobId: job!.id!, task }));
      await countAdded(redis, prefix, [...jobs, { queue: 'adds', jobId: 'no-such-job', task }]);

      const queued = countSetKey(prefix, 'adds', task, 'queued');
      expect(await redis.zscore(queued, plain!.id!)).toBe(String(plain!.timestamp));
      expect(await redis.zscore(queued, second!.id!)).toBe(String(second!.timestamp));
      expect(await redis.zscore(queued, counted!.id!)).toBeNull();
      expect(await redis.zscore(queued, finished!.id!)).toBeNull();
      expect(await redis.zscore(queued, 'no-such-job')).toBeNull();
      expect(await Promise.all([plain, second, counted, finished].map((job) => redis.hget(key(job!.id), COUNTED_FIELD)))).toEqual(['q', 'q', 'd', 'd']);
      expect(await redis.exists(key('no-such-job'))).toBe(0);
      expect(await redis.smembers(`${prefix}:tp:tasks:adds`)).toEqual([task]);
      expect((await readLastHour(redis, prefix, [task])).get(task)).toMatchObject({ completed: 1 });
    } finally {
      await raw.close();
    }
  });

  it('reads the counts with the same number of commands for 5 jobs as for 2,000 (O(tasks), not O(jobs))', async () => {
    const queue = stack.admin.queue('cost');
    /** Commands one read sends: direct calls, and the commands queued in its pipelines and MULTIs. */
    const commandsOfRead = async (): Promise<number> => {
      let commands = 0;
      const counting = new Proxy(stack.admin.redis, {
        get(target, property, receiver) {
          const value = Reflect.get(target, property, receiver) as unknown;
          if (typeof value !== 'function') return value;
          if (property === 'multi' || property === 'pipeline') {
            return (...args: unknown[]) => {
              const batch = (value as (...a: unknown[]) => { exec(): Promise<unknown>; length: number }).apply(target, args);
              const exec = batch.exec.bind(batch);
              batch.exec = () => ((commands += batch.length), exec());
              return batch;
            };
          }
          return (...args: unknown[]) => ((commands += 1), (value as (...a: unknown[]) => unknown).apply(target, args));
        },
      }) as RedisClient;
      const rows = await readTaskCounts(counting, { prefix, queue: 'cost', failedWindowMs: 3_600_000 });
      expect(rows.map((r) => r.task)).toEqual(['test.costA', 'test.costB']);
      return commands;
    };
    const add = (count: number) =>
      queue.addBulk(Array.from({ length: count }, (_, i) => ({ name: i % 2 === 0 ? 'test.costA' : 'test.costB', data: { i }, opts: { ...(i % 4 === 1 && { delay: 600_000 }) } })));
    await add(5);
    const few = await commandsOfRead();
    for (let i = 0; i < 4; i++) await add(499);
    const [a, b] = await readTaskCounts(stack.admin.redis, { prefix, queue: 'cost', failedWindowMs: 3_600_000 });
    expect((a?.waiting ?? 0) + (a?.delayed ?? 0) + (b?.waiting ?? 0) + (b?.delayed ?? 0)).toBe(2_001);
    expect((a?.delayed ?? 0) + (b?.delayed ?? 0)).toBe(1 + 4 * 125);
    expect(await commandsOfRead()).toBe(few);
    // A fixed number per task: one per counted state and failure reason (11 of them), and the check against BullMQ's counts.
    expect(few).toBeLessThan(80);
  });
});
