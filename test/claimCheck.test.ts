import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { chain, checkInputs, createAdmin, createClient, IdempotencyConflictError, isRef, ObjectNotFoundError, PayloadTooLargeError, type Ref, type TaskpoolAdmin, type TaskpoolClient } from '@taskpool/core';
import { createRedisConnection, ownedObjectCount, RedisObjectStore, sweepOwnedObjects, type RedisClient } from '@taskpool/core/internal';
import { startTestWorker } from '@taskpool/core/testing';
import type { TaskpoolWorker } from '@taskpool/core/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lengthOf, makeText, makeTextInline, makeTextThread, measure, putBytes } from './fixtures/claimCheckTasks.ts';
import { redisUrl, testPrefix } from './helpers/testRedis.ts';

const prefix = testPrefix(import.meta.url);
/** Small limits, so that tests move kilobytes, not megabytes. */
const INLINE_MAX = 4_096;
const MAX_OBJECT = 1_048_576;
const QUEUES = ['default', 'claims-inline', 'claims-thread'];

let root: string;
let client: TaskpoolClient;
let admin: TaskpoolAdmin;
let worker: TaskpoolWorker;
let redis: RedisClient;
let store: RedisObjectStore;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tp-claim-check-'));
  const objects = { inlineMaxBytes: INLINE_MAX, maxBytes: MAX_OBJECT };
  client = createClient({ redisUrl: redisUrl(), prefix, queues: QUEUES, objects });
  admin = createAdmin({ redisUrl: redisUrl(), prefix, queues: QUEUES, objects });
  worker = await startTestWorker({
    redisUrl: redisUrl(),
    prefix,
    tasksModule: 'test/fixtures/claimCheckTasks.ts',
    concurrency: 2,
    objects: { ...objects, cacheDir: join(root, 'cache'), sweepMs: 0 },
  });
  redis = createRedisConnection(redisUrl(), 'producer');
  store = new RedisObjectStore(redis, prefix);
}, 60_000);

afterAll(async () => {
  await client?.close();
  await admin?.close();
  await worker?.close();
  redis?.disconnect();
  await rm(root, { recursive: true, force: true });
});

/** The data BullMQ stores for a job, as JSON. */
const storedData = async (queue: string, jobId: string): Promise<Record<string, unknown>> => JSON.parse((await redis.hget(`${prefix}:${queue}:${jobId}`, 'data'))!) as Record<string, unknown>;
const storedReturn = async (queue: string, jobId: string): Promise<Record<string, unknown>> => JSON.parse((await redis.hget(`${prefix}:${queue}:${jobId}`, 'returnvalue'))!) as Record<string, unknown>;

describe('the claim check of inputs', () => {
  it('stores an input over the inline limit as an object: the job carries a reference, the handler sees the value (Date kept)', async () => {
    const text = 'é'.repeat(10_000);
    const handle = await client.submit(measure, { text, when: new Date('2031-05-06T00:00:00Z') });
    const data = await storedData('default', handle.id);
    expect(data.input).toBeUndefined();
    expect(isRef(data.inputRef)).toBe(true);
    expect(JSON.stringify(data).length).toBeLessThan(400);
    expect(await handle.result({ timeoutMs: 20_000 })).toEqual({ length: 10_000, year: 2031 });
  });

  it('carries an input under the limit as it is', async () => {
    const handle = await client.submit(measure, { text: 'short', when: new Date(0) });
    const data = await storedData('default', handle.id);
    expect(data.inputRef).toBeUndefined();
    expect(data.input).toMatchObject({ text: 'short' });
    expect(await handle.result({ timeoutMs: 20_000 })).toEqual({ length: 5, year: 1970 });
  });

  it('refuses an input over the largest object before anything is written', async () => {
    const before = await store.usage();
    await expect(client.submit(measure, { text: 'x'.repeat(MAX_OBJECT + 10), when: new Date() })).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect(await store.usage()).toEqual(before);
  });

  it('treats a repeated idempotent submit of the same big input as the same submit, and drops its copy', async () => {
    const text = 'y'.repeat(20_000);
    const before = (await store.usage()).objects;
    const first = await client.submit(measure, { text, when: new Date(0) }, { idempotencyKey: 'claim-same' });
    const second = await client.submit(measure, { text, when: new Date(0) }, { idempotencyKey: 'claim-same' });
    expect(second.id).toBe(first.id);
    expect((await store.usage()).objects).toBe(before + 1);
    await expect(client.submit(measure, { text: `${text}z`, when: new Date(0) }, { idempotencyKey: 'claim-same' })).rejects.toBeInstanceOf(IdempotencyConflictError);
    expect(await first.result({ timeoutMs: 20_000 })).toEqual({ length: 20_000, year: 1970 });
  });

  it('claim-checks the big inputs of a map of one-item jobs and gives the results in order', async () => {
    const inputs = [10, 9_000, 20, 12_000].map((n) => ({ text: 'm'.repeat(n), when: new Date(Date.UTC(2000 + n % 7, 0, 1)) }));
    const results = await client.map(measure, inputs, { chunkSize: 1 }).toArray();
    expect(results).toEqual(inputs.map(({ text, when }) => ({ length: text.length, year: when.getUTCFullYear() })));
  });

  it('takes a big input over HTTP\'s path (the admin\'s batch submit) by reference too', async () => {
    const checked = checkInputs(measure, [{ text: 'h'.repeat(9_000), when: new Date(0) }]);
    if (!checked.ok) throw new Error('invalid input');
    const [job] = await admin.submitBatch(checked.inputs);
    expect(isRef((await storedData('default', job!.id)).inputRef)).toBe(true);
    expect(await client.handle(measure, job!.id).result({ timeoutMs: 20_000 })).toEqual({ length: 9_000, year: 1970 });
  });

  it('fails an attempt whose input object is gone with OBJECT_NOT_FOUND, and does not retry it', async () => {
    const handle = await client.submit(measure, { text: 'g'.repeat(9_000), when: new Date(0) }, { delayMs: 1_500, attempts: 3 });
    const ref = (await storedData('default', handle.id)).inputRef as Ref;
    expect(await client.delete(ref)).toBe(true);
    const error = await handle.result({ timeoutMs: 20_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ObjectNotFoundError);
    expect(error).toMatchObject({ code: 'OBJECT_NOT_FOUND' });
    expect((await handle.status())?.attempts).toBe(1);
  });
});

describe('the claim check of outputs', () => {
  it('stores a big output of a sandboxed task as an object; result() gives the value', async () => {
    const handle = await client.submit(makeText, { n: 50_000 });
    expect(await handle.result({ timeoutMs: 20_000 })).toBe('x'.repeat(50_000));
    const stored = await storedReturn('default', handle.id);
    expect(stored.output).toBeUndefined();
    expect(isRef(stored.outputRef)).toBe(true);
    // The reference itself, typed, for a caller that passes it on instead of reading it.
    const ref = await handle.outputRef();
    expect(ref?.id).toBe((stored.outputRef as Ref).id);
    expect(await client.get(ref!)).toBe('x'.repeat(50_000));
    expect(await (await client.submit(makeText, { n: 3 })).outputRef({ timeoutMs: 20_000 })).toBeUndefined();
  });

  it('does the same for a task on the worker\'s own event loop (inline)', async () => {
    const handle = await client.submit(makeTextInline, { n: 30_000 });
    expect(await handle.result({ timeoutMs: 20_000 })).toBe('x'.repeat(30_000));
    expect(isRef((await storedReturn('claims-inline', handle.id)).outputRef)).toBe(true);
  });

  it('does the same for a task in a worker thread', async () => {
    const handle = await client.submit(makeTextThread, { n: 20_000 });
    expect(await handle.result({ timeoutMs: 20_000 })).toBe('x'.repeat(20_000));
    expect(isRef((await storedReturn('claims-thread', handle.id)).outputRef)).toBe(true);
  });

  it('keeps a small output inline', async () => {
    const handle = await client.submit(makeText, { n: 10 });
    expect(await handle.result({ timeoutMs: 20_000 })).toBe('x'.repeat(10));
    expect((await storedReturn('default', handle.id)).output).toBe('x'.repeat(10));
  });

  it('gives a map its big outputs by value', async () => {
    expect(await client.map(makeText, [{ n: 5 }, { n: 8_000 }, { n: 7 }], { chunkSize: 1 }).toArray()).toEqual(['x'.repeat(5), 'x'.repeat(8_000), 'x'.repeat(7)]);
  });

  it('hands a big step output to the next step of a workflow, and a big bound input to its step', async () => {
    const run = await client.run(chain(makeText.with({ n: 40_000 }), lengthOf));
    expect(await run.result({ timeoutMs: 20_000 })).toBe(40_000);
    const bound = await client.run(chain(measure.with({ text: 'w'.repeat(9_000), when: new Date(0) })));
    expect(await bound.result({ timeoutMs: 20_000 })).toEqual({ length: 9_000, year: 1970 });
  });

  it('ctx.put stores a value owned by the job and returns its reference', async () => {
    const ref = await (await client.submit(putBytes, { n: 100_000, fill: 9 })).result({ timeoutMs: 20_000 });
    expect(isRef(ref)).toBe(true);
    expect(await client.get(ref)).toEqual(Buffer.alloc(100_000, 9));
  });

  it('fails a handler whose ctx.put is over the largest object with PAYLOAD_TOO_LARGE, nothing written', async () => {
    const before = await store.usage();
    const error = await (await client.submit(putBytes, { n: MAX_OBJECT + 1, fill: 1 })).result({ timeoutMs: 20_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect(error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(await store.usage()).toEqual(before);
  });
});

describe('the lifetime of objects made for jobs', () => {
  it('deletes every object made for jobs and workflows once they are removed, and none before', async () => {
    const kept = await client.put({ mine: true });
    const handles = await Promise.all([
      ...Array.from({ length: 15 }, (_, i) => client.submit(measure, { text: 'l'.repeat(5_000 + i), when: new Date(0) })),
      ...Array.from({ length: 10 }, (_, i) => client.submit(makeText, { n: 6_000 + i })),
      ...Array.from({ length: 5 }, (_, i) => client.submit(putBytes, { n: 10_000 + i, fill: i })),
    ]);
    const runs = await Promise.all(Array.from({ length: 5 }, (_, i) => client.run(chain(makeText.with({ n: 7_000 + i }), lengthOf))));
    await Promise.all([...handles, ...runs].map((h) => h.result({ timeoutMs: 30_000 })));
    const owned = await ownedObjectCount(redis, prefix);
    // 15 inputs, 10 outputs, 5 puts, 5 workflow outputs at least (and the earlier tests' objects: 'claims-thread' is obliterated too).
    expect(owned).toBeGreaterThanOrEqual(35);
    expect(await sweepOwnedObjects(redis, prefix, [store], { graceMs: 0 })).toBe(0);

    for (const name of QUEUES) {
      const queue = new Queue(name, { connection: redis, prefix });
      await queue.obliterate({ force: true });
      await queue.close();
    }
    expect(await sweepOwnedObjects(redis, prefix, [store], { graceMs: 0 })).toBe(owned);
    expect(await ownedObjectCount(redis, prefix)).toBe(0);
    // Only the object of client.put is left: it lives until its TTL or delete.
    expect((await store.usage()).objects).toBe(1);
    expect(await client.get(kept)).toEqual({ mine: true });
  });
});
