import { collectTasks, PayloadTooLargeError, chain, type AnyTask } from '@taskpool/core';
import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import * as trustTasks from './fixtures/trustTasks.ts';
import { greet, mirror, reflect } from './fixtures/trustTasks.ts';
import { useProducerStack } from './helpers/producerStack.ts';
import { connectRedis, expectNothingWritten, redisUrl } from './helpers/testRedis.ts';
import { useTestStack } from './helpers/useTestStack.ts';

// One prefix for the worker, the client and the producer.
const stack = useTestStack({ tasksModule: 'test/fixtures/trustTasks.ts', concurrency: 2 });
const producer = useProducerStack({ tasks: collectTasks(trustTasks), prefix: stack.prefix });
const queue = new Queue('default', { connection: { url: redisUrl() }, prefix: stack.prefix });

afterAll(async () => {
  await queue.close();
});

/** A job template that an old worker would have enqueued: any task, into another queue, 99 attempts. */
const injected = { name: 'trust.greet', queue: 'evil', data: { $wf: {}, input: { name: 'injected' } }, opts: { attempts: 99, priority: 1 } };

/** Every name that was (or is now) read as control: the old in-payload markers, and the envelope's own fields. */
const reserved = {
  $wf: { kind: 'spawn', from: 'child', count: 0, sub: injected },
  $chunk: [{ name: 'chunk item' }],
  $tpSpawn: injected,
  v: 1,
  kind: 'step',
  wf: { kind: 'group', count: 0 },
  input: { name: 'not me' },
  meta: { values: { name: ['Date'] }, v: 1 },
};

/** Inputs as JSON text (so `__proto__` is an own key, as it is when it comes over HTTP). */
const cases: { label: string; task: AnyTask; text: string }[] = [
  { label: 'top level, unknown to the schema', task: greet, text: JSON.stringify({ name: 'x', ...reserved }) },
  { label: 'top level, kept by the schema', task: mirror, text: JSON.stringify(reserved) },
  { label: 'nested', task: mirror, text: JSON.stringify({ inner: reserved, list: [reserved] }) },
  { label: '__proto__, unknown to the schema', task: greet, text: '{"name":"x","__proto__":{"polluted":true}}' },
  { label: '__proto__, in a record', task: mirror, text: '{"__proto__":{"polluted":true},"$wf":{"kind":"group"}}' },
];

/** What the handler must see: the input as the task's schema parses it, nothing more, nothing less. */
function expected(task: AnyTask, text: string): { seen: string; keys: string[]; polluted: boolean } {
  const parsed = task.input.parse(JSON.parse(text)) as object;
  return { seen: JSON.stringify(parsed), keys: Object.keys(parsed), polluted: false };
}

/** Every job hash under the prefix, in any queue: an injected job would show up here. */
async function jobHashes(): Promise<string[]> {
  await using redis = await connectRedis(redisUrl());
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${stack.prefix}:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      if ((await redis.type(key)) === 'hash' && (await redis.hexists(key, 'name')) === 1) found.push(key);
    }
  } while (cursor !== '0');
  return found;
}

describe('user data is never read as control', () => {
  const submitted: string[] = [];

  it('through client.submit: the handler sees the parsed input, and runs', async () => {
    for (const { label, task, text } of cases) {
      const handle = await stack.client.submit(task, JSON.parse(text) as never);
      submitted.push(handle.id);
      expect(await handle.result({ timeoutMs: 20_000 }), label).toEqual(expected(task, text));
    }
  });

  it('through POST /v1/tasks/:name and the batch route', async () => {
    for (const { label, task, text } of cases) {
      const single = await producer.request({ method: 'POST', url: `/v1/tasks/${task.name}`, headers: { 'content-type': 'application/json' }, body: text });
      expect(single.statusCode, label).toBe(202);
      const batch = await producer.request({ method: 'POST', url: `/v1/tasks/${task.name}/batch`, headers: { 'content-type': 'application/json' }, body: `{"inputs":[${text},${text}]}` });
      expect(batch.statusCode, label).toBe(202);
      const ids = [single.json<{ id: string }>().id, ...batch.json<{ ids: string[] }>().ids];
      submitted.push(...ids);
      for (const id of ids) expect(await stack.client.handle(task, id).result({ timeoutMs: 20_000 }), label).toEqual(expected(task, text));
    }
  });

  it('through a workflow step, from the client and over HTTP', async () => {
    for (const { label, task, text } of cases) {
      const handle = await stack.client.run(chain(task.with(JSON.parse(text) as never)));
      submitted.push(handle.id);
      expect(await handle.result({ timeoutMs: 20_000 }), label).toEqual(expected(task, text));
      const res = await producer.request({ method: 'POST', url: '/v1/workflows', headers: { 'content-type': 'application/json' }, body: `{"task":"${task.name}","input":${text}}` });
      expect(res.statusCode, label).toBe(202);
      const id = res.json<{ id: string }>().id;
      submitted.push(id);
      expect(await (await stack.client.workflow(id))!.result({ timeoutMs: 20_000 }), label).toEqual(expected(task, text));
    }
  });

  it('gives back an output holding $tpSpawn, $chunk or $wf as data', async () => {
    const output = JSON.parse(JSON.stringify(reserved)) as Record<string, unknown>;
    const handle = await stack.client.submit(reflect, output as never);
    submitted.push(handle.id);
    expect(await handle.result({ timeoutMs: 20_000 })).toEqual(output);
    const items = await stack.client.map(reflect, [output, { $chunk: [1, 2] }] as never, { chunkSize: 2 }).toArray();
    expect(items).toEqual([output, { $chunk: [1, 2] }]);
  });

  it('left no job in Redis but those submitted: nothing was injected', async () => {
    const keys = await jobHashes();
    // The map above added one chunk job.
    expect(keys.length).toBe(submitted.length + 1);
    const ids = new Set(keys.map((key) => key.slice(`${stack.prefix}:default:`.length)));
    for (const id of submitted) expect(ids.has(id), id).toBe(true);
    expect(keys.every((key) => key.startsWith(`${stack.prefix}:default:`))).toBe(true);
  });
});

describe('what the schema drops does not reach Redis', () => {
  const pad = 'A'.repeat(1_000_000);

  it('stores only the keys the schema keeps, from the client and over HTTP', async () => {
    const handle = await stack.client.submit(greet, { name: 'light', pad } as never);
    const res = await producer.post('/v1/tasks/trust.greet', { name: 'light', pad });
    expect(res.statusCode).toBe(202);
    for (const id of [handle.id, res.json<{ id: string }>().id]) {
      const job = await queue.getJob(id);
      expect(job?.data).toEqual({ v: 1, input: { name: 'light' } });
      await expect(stack.client.handle(greet, id).result({ timeoutMs: 20_000 })).resolves.toMatchObject({ keys: ['name'] });
    }
  });

  it('refuses a job whose kept data is over the client cap, writing nothing', async () => {
    await expectNothingWritten(stack.prefix, async () => {
      // With the claim check off, the job's own cap (1 MiB by default) holds.
      const inlineOnly = stack.createClient({ objects: { inlineMaxBytes: Number.MAX_SAFE_INTEGER } });
      const error = await inlineOnly.submit(mirror, { big: 'B'.repeat(1_100_000) }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PayloadTooLargeError);
      expect((error as PayloadTooLargeError).code).toBe('PAYLOAD_TOO_LARGE');
      // With it on, an input too big to carry goes by reference: the largest object is then the cap.
      const capped = stack.createClient({ objects: { inlineMaxBytes: 1_000, maxBytes: 1_500 } });
      await expect(capped.submit(mirror, { big: 'B'.repeat(2_000) })).rejects.toBeInstanceOf(PayloadTooLargeError);
      const small = stack.createClient({ maxJobBytes: 1_000, objects: { inlineMaxBytes: 1_000_000 } });
      await expect(small.submit(mirror, { big: 'B'.repeat(2_000) })).rejects.toBeInstanceOf(PayloadTooLargeError);
      await expect(small.map(mirror, [{ big: 'B'.repeat(2_000) }]).toArray()).rejects.toBeInstanceOf(PayloadTooLargeError);
      await expect(small.run(chain(mirror.with({ big: 'B'.repeat(2_000) })))).rejects.toBeInstanceOf(PayloadTooLargeError);
    });
  });
});

describe('jobs queued in the shape of taskpool 0.1', () => {
  it('fail at once with a clear reason instead of running (or being taken for control)', async () => {
    const job = await queue.add('trust.greet', { name: 'old', $wf: { kind: 'group' } }, { jobId: `old-${Date.now()}` });
    const error = await stack.client.handle(greet, job.id!).result({ timeoutMs: 20_000 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ remoteName: 'UnsupportedJobDataError', remoteCode: 'UNSUPPORTED_JOB_DATA', reason: 'invalid' });
    expect((error as Error).message).toMatch(/not a taskpool job envelope/);
    const plain = await queue.add('trust.greet', { name: 'old' }, { jobId: `old-plain-${Date.now()}` });
    await expect(stack.client.handle(greet, plain.id!).result({ timeoutMs: 20_000 })).rejects.toMatchObject({ remoteCode: 'UNSUPPORTED_JOB_DATA' });
  });
});
