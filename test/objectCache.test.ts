import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@taskpool/core';
import { FsObjectStore, ObjectCache, putObject, type Ref } from '@taskpool/core/internal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let root: string;
let store: FsObjectStore;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tp-object-cache-'));
  store = new FsObjectStore(join(root, 'store'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const cacheIn = (name: string, maxBytes: number): ObjectCache => new ObjectCache({ stores: [store], dir: join(root, name), maxBytes, logger: createLogger({ level: 'silent' }) });
const put = (fill: number, bytes = 100_000): Promise<Ref<Buffer>> => putObject(store, Buffer.alloc(bytes, fill), { maxBytes: 1 << 24 });

describe('a machine\'s object cache', () => {
  it('fetches an object once for many concurrent asks, and not again while it is cached', async () => {
    const cache = cacheIn('once', 1 << 24);
    const ref = await put(1);
    const paths = await Promise.all(Array.from({ length: 20 }, () => cache.pathOf(ref)));
    expect(new Set(paths).size).toBe(1);
    expect(cache.fetches).toBe(1);
    await cache.pathOf(ref);
    expect(cache.fetches).toBe(1);
    expect(((await cache.read(ref)) as Buffer).equals(Buffer.alloc(100_000, 1))).toBe(true);
  });

  it('fetches a bad file again once however many readers report it, and never deletes the good copy for a late report', async () => {
    const cache = cacheIn('repair', 1 << 24);
    const ref = await put(5);
    const path = await cache.pathOf(ref);
    await writeFile(path, Buffer.alloc(100_000, 6));
    // Three readers found the bad bytes at once: one fetch repairs it.
    await Promise.all([cache.pathOf(ref, true), cache.pathOf(ref, true), cache.pathOf(ref, true)]);
    expect(cache.fetches).toBe(2);
    expect((await readFile(path)).equals(Buffer.alloc(100_000, 5))).toBe(true);
    // A reader that read the bad bytes before the repair reports them late: the good file stays, nothing is fetched.
    expect(await cache.pathOf(ref, true)).toBe(path);
    expect(cache.fetches).toBe(2);
    expect((await readFile(path)).equals(Buffer.alloc(100_000, 5))).toBe(true);
  });

  it('keeps under its bound by dropping the least recently used objects first', async () => {
    const cache = cacheIn('bounded', 250_000);
    const [a, b, c] = await Promise.all([put(2), put(3), put(4)]);
    await cache.pathOf(a!);
    await cache.pathOf(b!);
    // `a` read again later than `b`: `b` is now the least recently used.
    const later = new Date(Date.now() + 60_000);
    await utimes(join(root, 'bounded', a!.sha256), later, later);
    await cache.pathOf(c!);
    expect((await readdir(join(root, 'bounded'))).sort()).toEqual([a!.sha256, c!.sha256].sort());
    // Asked again, `b` is fetched again (and something else goes).
    await cache.pathOf(b!);
    expect(cache.fetches).toBe(4);
    expect(await readdir(join(root, 'bounded'))).toContain(b!.sha256);
    expect((await readdir(join(root, 'bounded'))).length).toBe(2);
  });
});
