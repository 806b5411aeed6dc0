import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkInputs, createAdmin, createClient, RedisUnavailableError, TaskpoolError } from '@taskpool/core';
import { startLocalRedis, type LocalRedis } from '../scripts/localRedis.ts';
import { sumSqrt } from './fixtures/tasks.ts';
import { startDropProxy } from './helpers/dropProxy.ts';
import { startProducerStack } from './helpers/producerStack.ts';
import { rejectionOf } from './helpers/rejectionOf.ts';
import { connectRedis, redisUrl, testPrefix } from './helpers/testRedis.ts';

const prefix = testPrefix(import.meta.url);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The ids in a queue's wait list, and the job hashes under its key prefix: what Redis holds of its jobs. */
async function jobsInRedis(url: string, queuePrefix: string): Promise<{ waiting: string[]; hashes: number }> {
  await using redis = await connectRedis(url);
  const waiting = await redis.lrange(`${queuePrefix}:default:wait`, 0, -1);
  let hashes = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${queuePrefix}:default:*`, 'COUNT', 1000);
    cursor = next;
    hashes += keys.filter((key) => UUID.test(key.slice(`${queuePrefix}:default:`.length))).length;
  } while (cursor !== '0');
  return { waiting, hashes };
}

/** A RedisUnavailableError; with `cause`, one that keeps the connection error of ioredis it was made from. */
function expectUnavailable(error: unknown, withCause = true): void {
  expect(error).toBeInstanceOf(RedisUnavailableError);
  expect(error).toBeInstanceOf(TaskpoolError);
  const typed = error as RedisUnavailableError;
  expect(typed.code).toBe('REDIS_UNAVAILABLE');
  expect(typed.name).toBe('RedisUnavailableError');
  expect(typed.message).toMatch(/^Redis is unavailable/);
  if (!withCause) return;
  expect(typed.cause).toBeInstanceOf(Error);
  expect(typed.cause).not.toBeInstanceOf(TaskpoolError);
  const cause = typed.cause as Error;
  expect(cause.name === 'MaxRetriesPerRequestError' || /Connection is closed|ECONNREFUSED/.test(cause.message)).toBe(true);
}

describe('submits while Redis restarts (a redis-server of this test, stopped and started again)', () => {
  let dir: string;
  let server: LocalRedis;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taskpool-submit-blip-'));
    // The AOF keeps the jobs added before the stop: a restart, not a new empty Redis.
    server = await startLocalRedis({ dir, appendOnly: true });
  });
  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** Stops redis-server, and starts it again on its port and data after `outageMs`; resolves with how long it was away. */
  async function restart(outageMs: number): Promise<number> {
    await server.stop();
    const stoppedAt = Date.now();
    await delay(outageMs);
    server = await startLocalRedis({ dir, port: server.port, appendOnly: true });
    return Date.now() - stoppedAt;
  }

  it('rides out a 2.5 s outage with the default submitRetryMs: no submit fails, and each is enqueued exactly once', async () => {
    const burst = `${prefix}-burst`;
    await using client = createClient({ redisUrl: server.url, prefix: burst });
    await client.submit(sumSqrt, { n: 1 });
    const SUBMITS = 2_000;
    const BATCH = 10;
    const submits: Promise<{ id: string; ms: number }>[] = [];
    let away: Promise<number> | undefined;
    // A steady stream (10 submits every 15 ms, none awaited before the next), Redis stopped after a fifth of it.
    for (let sent = 0; sent < SUBMITS; sent += BATCH) {
      if (sent === SUBMITS / 5) away = restart(2_500);
      for (let i = 0; i < BATCH; i++) {
        const started = Date.now();
        submits.push(client.submit(sumSqrt, { n: 1 }).then((handle) => ({ id: handle.id, ms: Date.now() - started })));
      }
      await delay(15);
    }
    const outcomes = await Promise.allSettled(submits);
    const outageMs = await away!;
    expect(outageMs).toBeGreaterThanOrEqual(2_500);
    expect(outcomes.filter((outcome) => outcome.status === 'rejected')).toEqual([]);
    const acknowledged = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
    // Submits made while Redis was away waited for it, then landed.
    expect(Math.max(...acknowledged.map((a) => a.ms))).toBeGreaterThan(1_000);
    const ids = acknowledged.map((a) => a.id);
    expect(new Set(ids).size).toBe(SUBMITS);
    // Redis holds one job per acknowledged submit (plus the first, before the outage): none twice, none lost.
    const { waiting, hashes } = await jobsInRedis(server.url, burst);
    expect(waiting.length).toBe(SUBMITS + 1);
    expect(new Set(waiting).size).toBe(SUBMITS + 1);
    expect(ids.every((id) => waiting.includes(id))).toBe(true);
    expect(hashes).toBe(SUBMITS + 1);
  });

  it('past submitRetryMs, submit, run and admin.submitBatch throw RedisUnavailableError; reads and cancels throw it at once', async () => {
    const down = `${prefix}-down`;
    await using client = createClient({ redisUrl: server.url, prefix: down, submitRetryMs: 1_000 });
    await using admin = createAdmin({ redisUrl: server.url, prefix: down, submitRetryMs: 1_000 });
    const handle = await client.submit(sumSqrt, { n: 1 });
    expect(await admin.queueCounts()).toMatchObject([{ counts: { waiting: 1 } }]);
    await server.stop();
    try {
      let started = Date.now();
      expectUnavailable(await rejectionOf(client.submit(sumSqrt, { n: 2 }), RedisUnavailableError));
      // Retried for the bound, then given up (with slack for a busy machine).
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
      expect(Date.now() - started).toBeLessThan(4_000);
      started = Date.now();
      expectUnavailable(await rejectionOf(client.run(sumSqrt.with({ n: 3 })), RedisUnavailableError));
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
      expect(Date.now() - started).toBeLessThan(4_000);
      const checked = checkInputs(sumSqrt, [{ n: 5 }]);
      if (!checked.ok) expect.unreachable('a valid input');
      expectUnavailable(await rejectionOf(admin.submitBatch(checked.inputs), RedisUnavailableError));
      expectUnavailable(await rejectionOf(client.submit(sumSqrt, { n: 6 }, { idempotencyKey: 'k' }), RedisUnavailableError));
      // The connections are known down by now: each read or cancel fails at once, not at the next reconnection attempt.
      started = Date.now();
      for (const call of [() => client.getJob(handle.id), () => handle.status(), () => handle.cancel(), () => client.workflow(handle.id), () => admin.queueCounts(), () => admin.getJob(handle.id)]) {
        expectUnavailable(await rejectionOf(call(), RedisUnavailableError), false);
      }
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      server = await startLocalRedis({ dir, port: server.port, appendOnly: true });
    }
    // Nothing of the failed submits reached Redis.
    const { waiting } = await jobsInRedis(server.url, down);
    expect(waiting).toEqual([handle.id]);
  });
});

describe('the HTTP API while Redis is away (a proxy in front of the run\'s Redis refuses connections)', () => {
  it('answers 202 to submits during a 1.5 s blip, each enqueued once; past the bound, 503 REDIS_UNAVAILABLE with Retry-After', async () => {
    await using proxy = await startDropProxy(redisUrl());
    const http = `${prefix}-http`;
    await using stack = await startProducerStack({ redisUrl: proxy.url, prefix: http });
    expect(stack.admin.submitRetryMs).toBe(5_000);
    expect((await stack.post('/v1/tasks/test.sumSqrt', { n: 1 })).statusCode).toBe(202);

    proxy.refuse(true);
    proxy.dropAll();
    const posts: Promise<{ statusCode: number; json: () => { id: string } }>[] = [];
    for (let i = 0; i < 10; i++) {
      for (let j = 0; j < 10; j++) posts.push(stack.post('/v1/tasks/test.sumSqrt', { n: 1 }));
      await delay(100);
    }
    await delay(500);
    proxy.refuse(false);
    const answers = await Promise.all(posts);
    expect(answers.map((answer) => answer.statusCode)).toEqual(answers.map(() => 202));
    const ids = answers.map((answer) => answer.json().id);
    const { waiting } = await jobsInRedis(redisUrl(), http);
    expect(waiting.length).toBe(ids.length + 1);
    expect(new Set(waiting).size).toBe(ids.length + 1);
    expect(ids.every((id) => waiting.includes(id))).toBe(true);

    proxy.refuse(true);
    proxy.dropAll();
    const started = Date.now();
    const refused = await stack.post('/v1/tasks/test.sumSqrt', { n: 1 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(5_000);
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('5');
    expect(refused.json()).toEqual({ error: { code: 'REDIS_UNAVAILABLE', message: expect.stringMatching(/^Redis is unavailable/) } });
    // A read fails at once, with the same answer.
    const read = await stack.request({ method: 'GET', url: `/v1/jobs/${ids[0]}` });
    expect(read.statusCode).toBe(503);
    expect(read.headers['retry-after']).toBe('5');
    proxy.refuse(false);
    expect((await jobsInRedis(redisUrl(), http)).waiting.length).toBe(ids.length + 1);
  });
});
