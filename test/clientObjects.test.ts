import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ConfigError, createClient, isRef, ObjectNotFoundError, PayloadTooLargeError, type Ref, type TaskpoolClient } from '@taskpool/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countKeys, redisUrl, testPrefix } from './helpers/testRedis.ts';

const prefix = testPrefix(import.meta.url);
let dir: string;
let client: TaskpoolClient;
/** A client of the same deployment that was not given the shared directory. */
let redisOnly: TaskpoolClient;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tp-client-objects-'));
  client = createClient({ redisUrl: redisUrl(), prefix, objects: { dir, fsFromBytes: 64 * 1024, maxBytes: 8 * 1024 * 1024 } });
  redisOnly = createClient({ redisUrl: redisUrl(), prefix });
});

afterAll(async () => {
  await client.close();
  await redisOnly.close();
  await rm(dir, { recursive: true, force: true });
});

describe('client.put / get / delete', () => {
  it('puts a value once and gets it back from any client of the deployment, typed by the reference', async () => {
    const rows = { columns: ['a', 'b'], rows: [[1, 2], [3, 4]], at: new Date('2026-12-03T00:00:00Z') };
    const ref = await client.put(rows, { ttlMs: 60_000 });
    expect(isRef(ref)).toBe(true);
    expect(ref.store).toBe('redis');
    const back: typeof rows = await redisOnly.get(ref);
    expect(back).toEqual(rows);
    expect(back.at).toBeInstanceOf(Date);
  });

  it('keeps small binary data in Redis and big binary data in the shared directory', async () => {
    const small = await client.put(Buffer.alloc(1_000, 1));
    const big = await client.put(new Float32Array(100_000).fill(0.5));
    expect(small.store).toBe('redis');
    expect(big.store).toBe('fs');
    expect(await readdir(dir)).toContain(big.id);
    expect((await client.get(big)).every((x) => x === 0.5)).toBe(true);
    expect((await client.get(small)).equals(Buffer.alloc(1_000, 1))).toBe(true);
    // A client without the directory can read what is in Redis, and says why it cannot read the rest.
    expect((await redisOnly.get(small)).length).toBe(1_000);
    await expect(redisOnly.get(big)).rejects.toBeInstanceOf(ConfigError);
  });

  it('reads a stream of bytes whole, and refuses one past the cap without writing anything', async () => {
    const parts = Array.from({ length: 20 }, (_, i) => Buffer.alloc(10_000, i));
    const ref = await client.put(Readable.from(parts));
    expect((await client.get(ref)).equals(Buffer.concat(parts))).toBe(true);
    const web = await client.put(new Blob([Buffer.from('from a web stream')]).stream());
    expect((await client.get(web)).toString()).toBe('from a web stream');

    const files = await readdir(dir);
    const keys = await countKeys(redisUrl(), prefix);
    async function* endless(): AsyncGenerator<Uint8Array> {
      for (;;) yield Buffer.alloc(1024 * 1024);
    }
    await expect(client.put(endless())).rejects.toBeInstanceOf(PayloadTooLargeError);
    await expect(client.put(Buffer.alloc(9 * 1024 * 1024))).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(await readdir(dir)).toEqual(files);
    expect(await countKeys(redisUrl(), prefix)).toBe(keys);
  });

  it('deletes objects in either store; a reference to a deleted one fails with OBJECT_NOT_FOUND', async () => {
    const refs: Ref[] = [await client.put({ n: 1 }), await client.put(Buffer.alloc(100_000))];
    for (const ref of refs) {
      expect(await client.delete(ref)).toBe(true);
      expect(await client.delete(ref)).toBe(false);
      await expect(client.get(ref)).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
      await expect(client.get(ref)).rejects.toBeInstanceOf(ObjectNotFoundError);
    }
  });
});
