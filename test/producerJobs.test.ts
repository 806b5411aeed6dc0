import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobView } from '@taskpool/core';
import { CANCEL_FIELD, cancelChannel } from '@taskpool/core/internal';
import { startTestWorker } from '@taskpool/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { useProducerStack } from './helpers/producerStack.ts';
import { eventually } from './helpers/spawnService.ts';
import { connectRedis, countKeys, redisUrl } from './helpers/testRedis.ts';
import { useFixture } from './helpers/useFixture.ts';

const dir = mkdtempSync(join(tmpdir(), 'tp-producer-jobs-'));
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
});

const stack = useProducerStack({ maxWaitMs: 1_500 });
const { prefix } = stack;
// A worker serving the producer's tasks, so jobs run.
useFixture(() => startTestWorker({ redisUrl: redisUrl(), prefix, tasksModule: 'test/fixtures/producerTasks.ts', concurrency: 2, shutdownGraceMs: 500 }));

const submit = async (task: string, input: unknown): Promise<string> => {
  const res = await stack.post(`/v1/tasks/${task}`, input);
  expect(res.statusCode, res.body).toBe(202);
  return res.json<{ id: string }>().id;
};
const getJob = async (id: string, query = ''): Promise<JobView> => {
  const res = await stack.request({ method: 'GET', url: `/v1/jobs/${id}${query}` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<JobView>();
};
const settled = async (id: string): Promise<JobView> => {
  let job: JobView | undefined;
  await eventually(async () => ['completed', 'failed'].includes((job = await getJob(id)).state), `job ${id} to finish`, 30_000);
  return job!;
};

describe('GET /v1/jobs/:id?waitMs=', () => {
  it('answers as soon as the job finishes, with its result', async () => {
    const id = await submit('test.sleep', { ms: 200 });
    const started = Date.now();
    const job = await getJob(id, '?waitMs=1500');
    expect(job.state).toBe('completed');
    expect(job.result).toMatchObject({ slept: expect.any(Number) });
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('answers with the current state once the (capped) wait is over', async () => {
    const id = await submit('test.sleep', { ms: 10_000 });
    const started = Date.now();
    // Asks for a minute; the server caps it at its maxWaitMs (1.5 s here).
    const job = await getJob(id, '?waitMs=60000');
    const waited = Date.now() - started;
    expect(['waiting', 'active']).toContain(job.state);
    expect(waited).toBeGreaterThanOrEqual(1_400);
    expect(waited).toBeLessThan(5_000);
    await stack.post(`/v1/jobs/${id}/cancel`);
  });

  it('answers a bad waitMs with 400 BAD_REQUEST', async () => {
    for (const waitMs of ['-1', 'soon', '1.5']) {
      const res = await stack.request({ method: 'GET', url: `/v1/jobs/any?waitMs=${waitMs}` });
      expect(res.statusCode, waitMs).toBe(400);
      expect(res.json().error.code).toBe('BAD_REQUEST');
    }
  });
});

describe('POST /v1/jobs/:id/retry', () => {
  it('puts a failed job back with its full attempts; it runs again and completes', async () => {
    const marker = join(dir, 'retry-one');
    const id = await submit('test.flaky', { marker, label: 'one' });
    const failed = await settled(id);
    expect(failed).toMatchObject({ state: 'failed', attempts: 1, error: { message: expect.stringContaining('marker file missing') } });
    writeFileSync(marker, '');
    const res = await stack.post(`/v1/jobs/${id}/retry`);
    expect(res.statusCode).toBe(200);
    // The answer is the job as read just after the retry: an idle worker may have taken it already (CI saw
    // attempts 1 there). Waiting, it shows no attempt; whatever its state, its old error is gone.
    const view = res.json();
    expect(view.id).toBe(id);
    expect(['waiting', 'active', 'completed']).toContain(view.state);
    if (view.state === 'waiting') expect(view.attempts).toBe(0);
    expect(view.error).toBeUndefined();
    // One attempt in all after the retry: the budget was reset (without it, this would say 2).
    expect(await settled(id)).toMatchObject({ state: 'completed', attempts: 1, result: { ok: true, label: 'one' } });
  });

  it('answers 409 CONFLICT for a completed job, and leaves it completed', async () => {
    const id = await submit('test.sumSqrt', { n: 10 });
    await settled(id);
    const before = await countKeys(redisUrl(), prefix);
    const res = await stack.post(`/v1/jobs/${id}/retry`);
    expect(res.statusCode).toBe(409);
    expect(res.json().error).toMatchObject({ code: 'CONFLICT', state: 'completed' });
    expect((await getJob(id)).state).toBe('completed');
    expect(await countKeys(redisUrl(), prefix)).toBe(before);
  });
});

describe('POST /v1/tasks/:name/retry-failed', () => {
  it("retries every failed job of that task, and only that task's", async () => {
    const marker = join(dir, 'retry-all');
    const flaky = await Promise.all(['a', 'b'].map((label) => submit('test.flaky', { marker, label })));
    const other = await submit('test.failing', { user: 'kept' });
    await Promise.all([...flaky, other].map(settled));
    writeFileSync(marker, '');
    const res = await stack.post('/v1/tasks/test.flaky/retry-failed');
    expect(res.statusCode).toBe(200);
    // Earlier tests' flaky jobs completed, so exactly these two were failed.
    expect(res.json()).toEqual({ task: 'test.flaky', retried: 2 });
    for (const id of flaky) expect((await settled(id)).state).toBe('completed');
    expect((await getJob(other)).state).toBe('failed');
  });

  it('answers an unknown task with 404 UNKNOWN_TASK', async () => {
    const res = await stack.post('/v1/tasks/test.nope/retry-failed');
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('UNKNOWN_TASK');
  });
});

describe('POST /v1/jobs/:id/cancel of a running job', () => {
  it('flags the job hash, publishes { queue, jobId } on the cancel channel, answers 202; the worker aborts it', async () => {
    await using subscriber = await connectRedis(redisUrl());
    const messages: string[] = [];
    subscriber.on('message', (_channel: string, text: string) => messages.push(text));
    await subscriber.subscribe(cancelChannel(prefix));

    const id = await submit('test.sleep', { ms: 60_000 });
    await eventually(async () => (await getJob(id)).state === 'active', `job ${id} to start`);
    const res = await stack.post(`/v1/jobs/${id}/cancel`);
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ id, queue: 'default', outcome: 'signalled' });
    await eventually(() => messages.length > 0, 'the cancel message');
    expect(JSON.parse(messages[0]!)).toEqual({ queue: 'default', jobId: id });
    await using redis = await connectRedis(redisUrl());
    expect(await redis.hget(`${prefix}:default:${id}`, CANCEL_FIELD)).toBe('1');

    const job = await settled(id);
    expect(job.state).toBe('failed');
    expect(job.error?.reason).toBe('cancelled');
  });

  it('answers 409 CONFLICT once the job has finished', async () => {
    const id = await submit('test.sumSqrt', { n: 10 });
    await settled(id);
    const res = await stack.post(`/v1/jobs/${id}/cancel`);
    expect(res.statusCode).toBe(409);
    expect(res.json().error).toMatchObject({ code: 'CONFLICT', state: 'completed' });
  });
});

describe('GET /v1/jobs (search)', () => {
  it('finds a failed job by a piece of its error text, case-insensitively', async () => {
    const id = await submit('test.flaky', { marker: join(dir, 'never'), label: 'needle-label' });
    await settled(id);
    const res = await stack.request({ method: 'GET', url: '/v1/jobs?text=NEEDLE-LABEL' });
    expect(res.statusCode).toBe(200);
    const { jobs } = res.json<{ jobs: { id: string; state: string; error: { message: string } }[] }>();
    expect(jobs.map((j) => j.id)).toEqual([id]);
    expect(jobs[0]).toMatchObject({ state: 'failed', error: { message: expect.stringContaining('needle-label') } });
  });

  it('filters by task and state, and finds one job by id', async () => {
    const id = await submit('test.sumSqrt', { n: 11 });
    await settled(id);
    const byTask = (await stack.request({ method: 'GET', url: '/v1/jobs?task=test.sumSqrt&state=completed' })).json<{ jobs: { id: string; task: string; state: string }[] }>();
    expect(byTask.jobs.map((j) => j.id)).toContain(id);
    expect(byTask.jobs.every((j) => j.task === 'test.sumSqrt' && j.state === 'completed')).toBe(true);
    const byId = (await stack.request({ method: 'GET', url: `/v1/jobs?id=${id}` })).json<{ jobs: { id: string }[] }>();
    expect(byId.jobs.map((j) => j.id)).toEqual([id]);
  });

  it('answers an unknown state or a bad limit with 400 BAD_REQUEST', async () => {
    for (const query of ['state=sleeping', 'limit=0', 'limit=1000']) {
      const res = await stack.request({ method: 'GET', url: `/v1/jobs?${query}` });
      expect(res.statusCode, query).toBe(400);
      expect(res.json().error.code).toBe('BAD_REQUEST');
    }
  });
});
