import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ObjectCorruptError, ObjectNotFoundError, PayloadTooLargeError } from '@taskpool/core';
import {
  FsObjectStore,
  getObject,
  isRef,
  putObject,
  REDIS_OBJECT_CHUNK_BYTES,
  RedisObjectStore,
  type ObjectStore,
} from '@taskpool/core/internal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './helpers/spawnService.ts';
import { connectRedis, countKeys, redisUrl, testPrefix, type TestRedisClient } from './helpers/testRedis.ts';

const prefix = testPrefix(import.meta.url);
const MAX = 64 * 1024 * 1024;
let redis: TestRedisClient;
let dir: string;

beforeAll(async () => {
  redis = await connectRedis(redisUrl());
  dir = await mkdtemp(join(tmpdir(), 'tp-objects-'));
});

afterAll(async () => {
  await redis[Symbol.asyncDispose]();
  await rm(dir, { recursive: true, force: true });
});

/** Each backend, on a real Redis (its own prefix) and a real directory (its own). */
const backends: [string, () => ObjectStore][] = [
  ['redis', () => new RedisObjectStore(redis, prefix)],
  ['fs', () => new FsObjectStore(join(dir, 'store'))],
];

describe.each(backends)('object store: %s', (kind, make) => {
  it('round-trips a Buffer, typed arrays and JSON values (a Date and a Map kept), each by a small reference', async () => {
    const store = make();
    expect(store.kind).toBe(kind);
    const buffer = Buffer.from('bytes \u0000\u00ff as they are');
    const floats = Float64Array.from({ length: 1000 }, (_, i) => i / 7);
    const ints = new Int32Array([1, -2, 3, 2 ** 31 - 1]);
    // A view into a bigger buffer, at an odd offset: only its own bytes are stored.
    const base = Buffer.from('xxhello');
    const view = new Uint8Array(base.buffer, base.byteOffset + 2, 5);
    const value = { name: 'dataset', at: new Date('2026-12-03T09:00:00Z'), tags: new Map([['a', 1]]), rows: [[1, 2], [3, 4]] };
    for (const original of [buffer, floats, ints, view, value]) {
      const ref = await putObject(store, original, { maxBytes: MAX });
      expect(isRef(ref)).toBe(true);
      expect(ref.store).toBe(kind);
      expect(JSON.stringify(ref).length).toBeLessThan(200);
      const back = await getObject(store, JSON.parse(JSON.stringify(ref)) as typeof ref);
      expect(back).toEqual(original);
      expect(Object.getPrototypeOf(back)).toBe(Object.getPrototypeOf(original));
    }
  });

  it('stores a large object whole (several chunks in Redis) and reads it back byte for byte', async () => {
    const store = make();
    const big = Buffer.alloc(3 * REDIS_OBJECT_CHUNK_BYTES + 12_345);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) % 251;
    const ref = await putObject(store, big, { maxBytes: MAX });
    expect(ref.size).toBe(big.length);
    expect((await getObject(store, ref)).equals(big)).toBe(true);
    expect(await store.stat(ref.id)).toMatchObject({ size: big.length, sha256: ref.sha256 });
  });

  it('refuses an object over the cap and writes nothing', async () => {
    const store = make();
    const before = await store.usage();
    const keysBefore = await countKeys(redisUrl(), prefix);
    await expect(putObject(store, Buffer.alloc(2_000), { maxBytes: 1_000 })).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect(await store.usage()).toEqual(before);
    expect(await countKeys(redisUrl(), prefix)).toBe(keysBefore);
  });

  it('deletes an object, counts what it holds, and fails a read of a missing object with its own error', async () => {
    const store = make();
    const before = await store.usage();
    const refs = await Promise.all([Buffer.alloc(100), Buffer.alloc(250)].map((b) => putObject(store, b, { maxBytes: MAX })));
    expect(await store.usage()).toEqual({ objects: before.objects + 2, bytes: before.bytes + 350 });
    expect(await store.delete(refs[0]!.id)).toBe(true);
    expect(await store.delete(refs[0]!.id)).toBe(false);
    expect(await store.usage()).toEqual({ objects: before.objects + 1, bytes: before.bytes + 250 });
    const missing = getObject(store, refs[0]!);
    await expect(missing).rejects.toBeInstanceOf(ObjectNotFoundError);
    await expect(missing).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND', objectId: refs[0]!.id });
    await store.delete(refs[1]!.id);
  });

  it('lets an object with a TTL expire, and keeps one without', async () => {
    const store = make();
    const before = await store.usage();
    const short = await putObject(store, { n: 1 }, { maxBytes: MAX, ttlMs: 300 });
    const kept = await putObject(store, { n: 2 }, { maxBytes: MAX });
    expect(await getObject(store, short)).toEqual({ n: 1 });
    expect((await store.stat(short.id))?.expiresAt).toBeGreaterThan(Date.now());
    await eventually(async () => (await store.stat(short.id)) === undefined, 'the object with a TTL expired', 5_000);
    await expect(getObject(store, short)).rejects.toBeInstanceOf(ObjectNotFoundError);
    expect(await getObject(store, kept)).toEqual({ n: 2 });
    expect(await store.usage()).toEqual({ objects: before.objects + 1, bytes: before.bytes + kept.size });
    await store.delete(kept.id);
  });

  it('detects bytes changed behind its back: a read fails with ObjectCorruptError, never gives them', async () => {
    const store = make();
    const ref = await putObject(store, Buffer.from('the right bytes'), { maxBytes: MAX });
    if (kind === 'redis') await redis.setrange(`${prefix}:tp:obj:${ref.id}:0`, 4, 'WRONG');
    else await writeFile(join(dir, 'store', ref.id), 'the WRONG bytes');
    const read = getObject(store, ref);
    await expect(read).rejects.toBeInstanceOf(ObjectCorruptError);
    await expect(read).rejects.toMatchObject({ code: 'OBJECT_CORRUPT' });
    // A reference whose size disagrees is refused the same way.
    await expect(getObject(store, { ...ref, size: ref.size + 1 })).rejects.toBeInstanceOf(ObjectCorruptError);
    await store.delete(ref.id);
  });
});

describe('object store: fs', () => {
  it('leaves no temporary file behind, and refuses an id that is a path', async () => {
    const store = new FsObjectStore(join(dir, 'clean'));
    const ref = await putObject(store, Buffer.alloc(10), { maxBytes: MAX });
    expect((await readdir(join(dir, 'clean'))).sort()).toEqual([ref.id, `${ref.id}.meta.json`].sort());
    await expect(store.get('../etc/passwd')).rejects.toBeInstanceOf(RangeError);
  });
});

describe('object store: redis', () => {
  it('keeps every key of an object under the prefix, and leaves none after a delete of a written-again object', async () => {
    const store = new RedisObjectStore(redis, `${prefix}-own`);
    const big = Buffer.alloc(2 * REDIS_OBJECT_CHUNK_BYTES + 1, 7);
    await store.put('same-id', big, { size: big.length, sha256: 'x' });
    expect(await countKeys(redisUrl(), `${prefix}-own`)).toBe(1 + 3 + 2);
    // Written again smaller: the chunks past its new end go.
    await store.put('same-id', Buffer.alloc(10), { size: 10, sha256: 'y' });
    expect(await countKeys(redisUrl(), `${prefix}-own`)).toBe(1 + 1 + 2);
    expect(await store.delete('same-id')).toBe(true);
    expect(await countKeys(redisUrl(), `${prefix}-own`)).toBe(0);
  });
});
