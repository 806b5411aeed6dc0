import { createServer } from 'node:net';
import { collectTasks, createAdmin, createClient, createLogger, type TaskpoolAdmin, type TaskpoolClient } from '@taskpool/core';
import { startTestWorker } from '@taskpool/core/testing';
import { buildServer, createRedisHealth, type JobResponse, type RedisHealth } from '@taskpool/producer';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fixtures from './fixtures/tasks.ts';
import { useProducerStack } from './helpers/producerStack.ts';
import { AUTH, TEST_TOKEN } from './helpers/testToken.ts';
import { eventually } from './helpers/spawnService.ts';
import { countKeys, expectNothingWritten, redisUrl } from './helpers/testRedis.ts';
import { useFixture } from './helpers/useFixture.ts';

const logger = createLogger({ level: 'silent' });
const tasks = collectTasks(fixtures);
const stack = useProducerStack({ tasks });
const { prefix } = stack;

const postTask = (name: string, body: unknown) => stack.post(`/v1/tasks/${name}`, body);

// No worker runs in this block, so the keys under the prefix change only when a POST enqueues.
describe('POST /v1/tasks/:name', () => {
  it('enqueues a valid input and answers 202 with the job id', async () => {
    const res = await postTask('test.sumSqrt', { n: 10 });
    expect(res.statusCode).toBe(202);
    const { id } = res.json<{ id: string }>();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.location).toBe(`/v1/jobs/${id}`);
    expect(await stack.client.getJob(id)).toMatchObject({ id, task: 'test.sumSqrt', input: { n: 10 } });
    expect(await countKeys(redisUrl(), prefix)).toBeGreaterThan(0);
  });

  it('answers 400 INVALID_INPUT with every field-level issue, and enqueues nothing', async () => {
    await expectNothingWritten(prefix, async () => {
      const res = await postTask('test.slowRecord', { id: 1.5, ms: -1 });
      expect(res.statusCode).toBe(400);
      const { error } = res.json<{ error: { code: string; task: string; issues: { path: unknown[]; message: string; code: string }[] } }>();
      expect(error.code).toBe('INVALID_INPUT');
      expect(error.task).toBe('test.slowRecord');
      expect(error.issues.map((issue) => issue.path)).toEqual([['id'], ['ms'], ['file']]);
      expect(error.issues.map((issue) => issue.code)).toEqual(['invalid_type', 'too_small', 'invalid_type']);
      for (const issue of error.issues) expect(issue.message).toEqual(expect.any(String));
      expect(error.issues.every((issue) => issue.message.length > 0)).toBe(true);
    });
  });

  it('answers 404 UNKNOWN_TASK for a task the module does not export, and enqueues nothing', async () => {
    await expectNothingWritten(prefix, async () => {
      const res = await postTask('test.nope', { n: 1 });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toEqual({ error: { code: 'UNKNOWN_TASK', message: 'Unknown task "test.nope"', task: 'test.nope' } });
    });
  });

  it('answers 400 BAD_REQUEST for malformed JSON, and enqueues nothing', async () => {
    await expectNothingWritten(prefix, async () => {
      const res = await stack.app.inject({
        method: 'POST',
        url: '/v1/tasks/test.sumSqrt',
        headers: { 'content-type': 'application/json', ...AUTH },
        body: '{"n": 10',
      });
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toEqual({ code: 'BAD_REQUEST', message: expect.stringContaining('not valid JSON') });
    });
  });

  it('answers 413 PAYLOAD_TOO_LARGE past the 1 MiB default, and enqueues nothing', async () => {
    await expectNothingWritten(prefix, async () => {
      // A valid input (unknown keys are stripped), so only its size refuses it.
      const res = await postTask('test.sumSqrt', { n: 10, padding: 'x'.repeat(1024 * 1024) });
      expect(res.statusCode).toBe(413);
      expect(res.json().error.code).toBe('PAYLOAD_TOO_LARGE');
    });
  });
});

describe('GET /v1/jobs/:id', () => {
  const worker = useFixture(() => startTestWorker({ redisUrl: redisUrl(), prefix, tasksModule: 'test/fixtures/tasks.ts' }));

  /** Polls the job over the API until it has finished for good. */
  async function settled(id: string): Promise<JobResponse> {
    let job: JobResponse | undefined;
    await eventually(
      async () => {
        const res = await stack.app.inject({ method: 'GET', url: `/v1/jobs/${id}`, headers: AUTH });
        expect(res.statusCode).toBe(200);
        job = res.json<JobResponse>();
        return job.state === 'completed' || job.state === 'failed';
      },
      `job ${id} finished`,
      30_000,
    );
    return job!;
  }

  it('answers 404 JOB_NOT_FOUND for an id no queue holds', async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/v1/jobs/no-such-job', headers: AUTH });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: { code: 'JOB_NOT_FOUND', message: 'No job with id "no-such-job"', jobId: 'no-such-job' } });
  });

  it('shows a job the worker completed, with its result', async () => {
    const { id } = (await postTask('test.sumSqrt', { n: 1000 })).json<{ id: string }>();
    const job = await settled(id);
    let sum = 0;
    for (let i = 0; i < 1000; i++) sum += Math.sqrt(i);
    expect(job).toMatchObject({ id, task: 'test.sumSqrt', queue: 'default', state: 'completed', attempts: 1 });
    expect(job.result).toEqual({ sum, pid: worker.sandboxPids[0], ppid: process.pid });
    expect(job.error).toBeUndefined();
    expect(job).not.toHaveProperty('input');
  });

  it('shows a job that failed for good, with its structured error and no stack trace', async () => {
    const { id } = (await postTask('test.failing', { user: 'ann' })).json<{ id: string }>();
    const job = await settled(id);
    expect(job).toMatchObject({ id, state: 'failed', attempts: 3 });
    expect(job.error).toMatchObject({ name: 'QuotaError', code: 'E_QUOTA', message: 'quota exceeded for ann', fields: { retryAfterMs: 1234 } });
    expect(job.error!.cause).toMatchObject({ name: 'RangeError', message: 'limit 10 reached' });
    expect(JSON.stringify(job)).not.toContain('"stack"');
  });
});

describe('GET /health', () => {
  it('answers 200 while Redis answers', async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ok: true });
  });
});

describe('with Redis away', () => {
  let downApp: FastifyInstance;
  let downClient: TaskpoolClient;
  let downAdmin: TaskpoolAdmin;
  let downRedis: RedisHealth;

  beforeAll(async () => {
    const url = `redis://127.0.0.1:${await closedPort()}`;
    downClient = createClient({ redisUrl: url, prefix });
    downAdmin = createAdmin({ redisUrl: url, prefix, submitRetryMs: 1_000 });
    downRedis = createRedisHealth({ redisUrl: url, logger });
    downApp = buildServer({ tasks, client: downClient, admin: downAdmin, redis: downRedis, logger, tokens: [TEST_TOKEN] });
  });

  afterAll(async () => {
    await downApp?.close();
    await downClient?.close();
    await downAdmin?.close();
    await downRedis?.close();
  });

  it('answers a POST with 503 REDIS_UNAVAILABLE and Retry-After once the submit bound is over, instead of hanging', async () => {
    const started = Date.now();
    const res = await downApp.inject({
      method: 'POST',
      url: '/v1/tasks/test.sumSqrt',
      headers: { 'content-type': 'application/json', ...AUTH },
      body: JSON.stringify({ n: 10 }),
    });
    expect(res.statusCode).toBe(503);
    expect(res.json().error.code).toBe('REDIS_UNAVAILABLE');
    expect(res.headers['retry-after']).toBe('5');
    // A submit waits for Redis for the admin's submitRetryMs (1 s here), then is refused: not timed out (5 s more).
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('still answers a bad input with 400, and GET and /health with 503', async () => {
    const bad = await downApp.inject({
      method: 'POST',
      url: '/v1/tasks/test.sumSqrt',
      headers: { 'content-type': 'application/json', ...AUTH },
      body: JSON.stringify({ n: 'many' }),
    });
    expect(bad.statusCode).toBe(400);
    const started = Date.now();
    const read = await downApp.inject({ method: 'GET', url: '/v1/jobs/abc', headers: AUTH });
    expect(read.statusCode).toBe(503);
    expect(read.headers['retry-after']).toBe('5');
    // A read is refused up front, well under the 5 s deadline.
    expect(Date.now() - started).toBeLessThan(2_000);
    const health = await downApp.inject({ method: 'GET', url: '/health' });
    expect(health.statusCode).toBe(503);
    expect(health.json()).toMatchObject({ ok: false, error: { code: 'REDIS_UNAVAILABLE' } });
  });
});

/** A local port nothing listens on: bound by the OS, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
