import { startTestWorker } from '@taskpool/core/testing';
import type { TaskpoolWorker } from '@taskpool/core/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useProducerStack } from './helpers/producerStack.ts';
import { expectNothingWritten, redisUrl } from './helpers/testRedis.ts';

// Per-job options in the query of a task submit: refused ones first, while no worker runs (so the keys under
// the prefix change only when a request enqueues), then a real worker runs the accepted ones.
const stack = useProducerStack();
const { prefix } = stack;
let worker: TaskpoolWorker | undefined;

afterAll(async () => {
  await worker?.close();
});

interface JobBody {
  id: string;
  state: string;
  attempts: number;
  createdAt: number;
  finishedAt?: number;
  error?: { code?: string; reason?: string };
}

async function submit(url: string, body: unknown): Promise<string> {
  const res = await stack.post(url, body);
  expect(res.statusCode, res.body).toBe(202);
  return res.json<{ id: string }>().id;
}

async function jobOf(id: string, waitMs = 0): Promise<JobBody> {
  const res = await stack.request({ method: 'GET', url: `/v1/jobs/${id}${waitMs ? `?waitMs=${waitMs}` : ''}` });
  expect(res.statusCode).toBe(200);
  return res.json<JobBody>();
}

async function storedOpts(id: string): Promise<Record<string, unknown>> {
  const job = await stack.admin.queue('default').getJob(id);
  return (job?.opts ?? {}) as Record<string, unknown>;
}

describe('POST /v1/tasks/:name?attempts=...: bad options, nothing enqueued', () => {
  it.each([
    ['attempts=0', 'attempts'],
    ['attempts=1.5', 'attempts'],
    ['priority=abc', 'priority'],
    ['priority=2097152', 'priority'],
    ['timeoutMs=0', 'timeoutMs'],
    ['delayMs=-1', 'delayMs'],
    ['delayMs=', 'delayMs'],
    ['attempts=2&attempts=3', 'attempts'],
    ['atempts=2', 'atempts'],
  ])('refuses ?%s with 400 BAD_REQUEST naming %s, and enqueues nothing', async (query, field) => {
    await expectNothingWritten(prefix, async () => {
      for (const url of [`/v1/tasks/test.sumSqrt?${query}`, `/v1/tasks/test.sumSqrt/batch?${query}`]) {
        const body = url.includes('/batch?') ? { inputs: [{ n: 1 }] } : { n: 1 };
        const res = await stack.post(url, body);
        expect(res.statusCode).toBe(400);
        const { error } = res.json<{ error: { code: string; message: string; issues: unknown[] } }>();
        expect(error.code).toBe('BAD_REQUEST');
        expect(error.message).toContain(field);
        expect(JSON.stringify(error.issues)).toContain(field);
      }
    });
  });
});

describe('POST /v1/tasks/:name?attempts=&priority=&timeoutMs=&delayMs=', () => {
  beforeAll(async () => {
    worker = await startTestWorker({ redisUrl: redisUrl(), prefix, tasksModule: 'test/fixtures/producerTasks.ts', concurrency: 2 });
  });

  it('attempts: a failing task (3 attempts by default) is tried twice', async () => {
    const id = await submit('/v1/tasks/test.failing?attempts=2', { user: 'twice' });
    const job = await jobOf(id, 20_000);
    expect(job).toMatchObject({ state: 'failed', attempts: 2, error: { code: 'E_QUOTA' } });
    expect(await storedOpts(id)).toMatchObject({ attempts: 2, backoff: { type: 'fixed', delay: 10 } });
  });

  it('delayMs: the job is delayed first, and runs no sooner', async () => {
    const id = await submit('/v1/tasks/test.sumSqrt?delayMs=1000', { n: 10 });
    expect((await jobOf(id)).state).toBe('delayed');
    const job = await jobOf(id, 20_000);
    expect(job.state).toBe('completed');
    expect(job.finishedAt! - job.createdAt).toBeGreaterThanOrEqual(1000);
  });

  it('priority: stored on the job', async () => {
    const id = await submit('/v1/tasks/test.sumSqrt?priority=7', { n: 10 });
    expect(await storedOpts(id)).toMatchObject({ priority: 7 });
    expect((await jobOf(id, 20_000)).state).toBe('completed');
  });

  it('timeoutMs: stored on the job, and its attempt is stopped at the limit', async () => {
    const id = await submit('/v1/tasks/test.sleep?timeoutMs=300', { ms: 30_000 });
    expect(await storedOpts(id)).toMatchObject({ timeoutMs: 300 });
    const job = await jobOf(id, 20_000);
    expect(job).toMatchObject({ state: 'failed', error: { code: 'TASK_TIMEOUT', reason: 'timeout' } });
    expect(job.finishedAt! - job.createdAt).toBeLessThan(15_000);
  });

  it('the batch route takes them too, for every job', async () => {
    const res = await stack.post('/v1/tasks/test.sumSqrt/batch?priority=3&attempts=2&timeoutMs=5000', { inputs: [{ n: 1 }, { n: 2 }] });
    expect(res.statusCode).toBe(202);
    for (const id of res.json<{ ids: string[] }>().ids) expect(await storedOpts(id)).toMatchObject({ priority: 3, attempts: 2, timeoutMs: 5000 });
  });
});
