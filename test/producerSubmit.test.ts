import { describe, expect, it } from 'vitest';
import { useProducerStack } from './helpers/producerStack.ts';
import { connectRedis, countKeys, expectNothingWritten, redisUrl } from './helpers/testRedis.ts';

// No worker: jobs stay waiting, so the keys under the prefix change only when a request enqueues or removes.
const stack = useProducerStack({ bodyLimitBytes: 64 * 1024 });
const { prefix } = stack;

describe('POST /v1/tasks/:name/batch', () => {
  it('enqueues every input in one request and answers 202 with the ids in order', async () => {
    const res = await stack.post('/v1/tasks/test.sumSqrt/batch', { inputs: [{ n: 1 }, { n: 2 }, { n: 3 }] });
    expect(res.statusCode).toBe(202);
    const { ids, replayed } = res.json<{ ids: string[]; replayed: boolean }>();
    expect(ids).toHaveLength(3);
    expect(replayed).toBe(false);
    const jobs = await Promise.all(ids.map((id) => stack.client.getJob(id)));
    expect(jobs.map((job) => job?.input)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(jobs.every((job) => job?.state === 'waiting' && job.task === 'test.sumSqrt')).toBe(true);
  });

  it("keeps the task's defaults: attempts and backoff", async () => {
    const { ids } = (await stack.post('/v1/tasks/test.failing/batch', { inputs: [{ user: 'a' }] })).json<{ ids: string[] }>();
    const job = await stack.admin.queue('default').getJob(ids[0]!);
    expect(job?.opts).toMatchObject({ attempts: 3, backoff: { type: 'fixed', delay: 10 } });
  });

  it('refuses the whole batch when one input is bad: 400 INVALID_INPUT with the issues of each bad index', async () => {
    await expectNothingWritten(prefix, async () => {
      const res = await stack.post('/v1/tasks/test.sumSqrt/batch', { inputs: [{ n: 1 }, { n: -1 }, { n: 2 }, { m: 1 }] });
      expect(res.statusCode).toBe(400);
      const { error } = res.json();
      expect(error.code).toBe('INVALID_INPUT');
      expect(error.items.map((item: { index: number }) => item.index)).toEqual([1, 3]);
      expect(error.items[0].issues[0]).toMatchObject({ path: ['n'], code: 'too_small' });
      expect(error.issues.map((issue: { path: unknown[] }) => issue.path)).toEqual([
        ['inputs', 1, 'n'],
        ['inputs', 3, 'n'],
      ]);
    });
  });

  it.each([
    ['a bare array', [{ n: 1 }]],
    ['no inputs', {}],
    ['inputs that are not an array', { inputs: { n: 1 } }],
    ['an empty batch', { inputs: [] }],
    ['more than 1000 inputs', { inputs: Array.from({ length: 1001 }, () => ({ n: 1 })) }],
  ])('answers %s with 400 BAD_REQUEST, and enqueues nothing', async (_name, body) => {
    await expectNothingWritten(prefix, async () => {
      const res = await stack.post('/v1/tasks/test.sumSqrt/batch', body);
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('BAD_REQUEST');
    });
  });

  it('answers an unknown task with 404 UNKNOWN_TASK, and enqueues nothing', async () => {
    await expectNothingWritten(prefix, async () => {
      const res = await stack.post('/v1/tasks/test.nope/batch', { inputs: [{ n: 1 }] });
      expect(res.statusCode).toBe(404);
      expect(res.json().error).toMatchObject({ code: 'UNKNOWN_TASK', task: 'test.nope' });
    });
  });

  it('answers malformed JSON with 400 and a body over the limit with 413, and enqueues nothing', async () => {
    await expectNothingWritten(prefix, async () => {
      const bad = await stack.request({ method: 'POST', url: '/v1/tasks/test.sumSqrt/batch', headers: { 'content-type': 'application/json' }, body: '{"inputs": [' });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error.code).toBe('BAD_REQUEST');
      const large = await stack.post('/v1/tasks/test.sumSqrt/batch', { inputs: Array.from({ length: 900 }, () => ({ n: 1, pad: 'x'.repeat(100) })) });
      expect(large.statusCode).toBe(413);
      expect(large.json().error.code).toBe('PAYLOAD_TOO_LARGE');
    });
  });
});

describe('bad input of every kind on POST /v1/tasks/:name', () => {
  it.each([
    ['a JSON array', [1, 2]],
    ['a JSON string', 'n=10'],
    ['null', null],
    ['a wrong type', { n: 'ten' }],
    ['a missing field', {}],
  ])('answers %s with 400 INVALID_INPUT, and enqueues nothing', async (_name, body) => {
    await expectNothingWritten(prefix, async () => {
      const res = await stack.post('/v1/tasks/test.sumSqrt', body);
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('INVALID_INPUT');
    });
  });

  it('answers a body that is not declared JSON (another content type, or none) with 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    await expectNothingWritten(prefix, async () => {
      for (const headers of [{ 'content-type': 'text/plain' }, {}]) {
        const res = await stack.request({ method: 'POST', url: '/v1/tasks/test.sumSqrt', headers, body: '{"n": 10}' });
        expect(res.statusCode).toBe(415);
        expect(res.json().error).toEqual({ code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Send the body as JSON, with content-type: application/json' });
      }
    });
  });
});

describe('Idempotency-Key', () => {
  it('answers a repeated POST with the first job, and enqueues it once', async () => {
    const key = { 'idempotency-key': 'order-1001' };
    const first = await stack.post('/v1/tasks/test.sumSqrt', { n: 5 }, key);
    expect(first.statusCode).toBe(202);
    expect(first.json()).toMatchObject({ replayed: false });
    const before = await countKeys(redisUrl(), prefix);
    const again = await stack.post('/v1/tasks/test.sumSqrt', { n: 5 }, key);
    expect(again.statusCode).toBe(202);
    expect(again.json()).toEqual({ id: first.json().id, replayed: true });
    expect(await countKeys(redisUrl(), prefix)).toBe(before);
  });

  it('keys are per task: the same key on another task is another job', async () => {
    const a = await stack.post('/v1/tasks/test.sumSqrt', { n: 5 }, { 'idempotency-key': 'shared-key' });
    const b = await stack.post('/v1/tasks/test.failing', { user: 'x' }, { 'idempotency-key': 'shared-key' });
    expect(a.json().id).not.toBe(b.json().id);
  });

  it('answers a key reused with a different input with 409 CONFLICT, and enqueues nothing', async () => {
    await stack.post('/v1/tasks/test.sumSqrt', { n: 7 }, { 'idempotency-key': 'order-1002' });
    await expectNothingWritten(prefix, async () => {
      const res = await stack.post('/v1/tasks/test.sumSqrt', { n: 8 }, { 'idempotency-key': 'order-1002' });
      expect(res.statusCode).toBe(409);
      expect(res.json().error.code).toBe('CONFLICT');
    });
  });

  it('makes a repeated batch return the same ids', async () => {
    const key = { 'idempotency-key': 'batch-77' };
    const first = (await stack.post('/v1/tasks/test.sumSqrt/batch', { inputs: [{ n: 1 }, { n: 2 }] }, key)).json();
    const before = await countKeys(redisUrl(), prefix);
    const again = (await stack.post('/v1/tasks/test.sumSqrt/batch', { inputs: [{ n: 1 }, { n: 2 }] }, key)).json();
    expect(again).toEqual({ ids: first.ids, replayed: true });
    expect(await countKeys(redisUrl(), prefix)).toBe(before);
  });

  it('answers a key that is too long or not printable ASCII with 400 BAD_REQUEST, and enqueues nothing', async () => {
    await expectNothingWritten(prefix, async () => {
      for (const key of ['k'.repeat(256), 'caf\u00e9']) {
        const res = await stack.post('/v1/tasks/test.sumSqrt', { n: 1 }, { 'idempotency-key': key });
        expect(res.statusCode).toBe(400);
        expect(res.json().error.code).toBe('BAD_REQUEST');
      }
    });
  });
});

describe('POST /v1/jobs/:id/cancel of a job that has not started', () => {
  it('removes it: 200 { outcome: removed }, and the job is gone', async () => {
    const { id } = (await stack.post('/v1/tasks/test.sumSqrt', { n: 3 })).json<{ id: string }>();
    const res = await stack.post(`/v1/jobs/${id}/cancel`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ id, queue: 'default', outcome: 'removed' });
    expect(await stack.client.getJob(id)).toBeUndefined();
    await using redis = await connectRedis(redisUrl());
    expect(await redis.exists(`${prefix}:default:${id}`)).toBe(0);
  });

  it('answers an unknown id with 404 JOB_NOT_FOUND, and writes nothing', async () => {
    await expectNothingWritten(prefix, async () => {
      const res = await stack.post('/v1/jobs/no-such-job/cancel');
      expect(res.statusCode).toBe(404);
      expect(res.json().error).toMatchObject({ code: 'JOB_NOT_FOUND', jobId: 'no-such-job' });
    });
  });
});

describe('POST /v1/jobs/:id/retry of a job that has not failed', () => {
  it('answers 409 CONFLICT naming its state, and changes nothing', async () => {
    const { id } = (await stack.post('/v1/tasks/test.sumSqrt', { n: 3 })).json<{ id: string }>();
    await expectNothingWritten(prefix, async () => {
      const res = await stack.post(`/v1/jobs/${id}/retry`);
      expect(res.statusCode).toBe(409);
      expect(res.json().error).toMatchObject({ code: 'CONFLICT', jobId: id, state: 'waiting' });
    });
    expect((await stack.client.getJob(id))?.state).toBe('waiting');
  });

  it('answers an unknown id with 404 JOB_NOT_FOUND', async () => {
    const res = await stack.post('/v1/jobs/no-such-job/retry');
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('JOB_NOT_FOUND');
  });
});
