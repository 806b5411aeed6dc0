import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createClient, ObjectNotFoundError, type Ref, type TaskpoolClient } from '@taskpool/core';
import { createRedisConnection } from '@taskpool/core/internal';
import { startTestWorker } from '@taskpool/core/testing';
import type { TaskpoolWorker } from '@taskpool/core/worker';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRows, countRowsInline, makeText, sumBytes, textLength } from './fixtures/objectTasks.ts';
import { redisUrl, testPrefix } from './helpers/testRedis.ts';

const prefix = testPrefix(import.meta.url);
let root: string;
let shared: string;
let client: TaskpoolClient;

/** A worker standing for one machine: its own cache directory, and the events its logger wrote. */
interface Machine {
  worker: TaskpoolWorker;
  cacheDir: string;
  events: { event?: string }[];
}
const machines: Machine[] = [];
const eventsOf = (machine: Machine, event: string): number => machine.events.filter((e) => e.event === event).length;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tp-objects-in-tasks-'));
  shared = join(root, 'shared');
  client = createClient({ redisUrl: redisUrl(), prefix, objects: { dir: shared } });
  for (const name of ['a', 'b']) {
    const events: { event?: string }[] = [];
    const sink = new Writable({ write: (line: Buffer, _encoding, done) => done(void events.push(JSON.parse(line.toString()) as { event?: string })) });
    const cacheDir = join(root, `cache-${name}`);
    const worker = await startTestWorker({
      redisUrl: redisUrl(),
      prefix,
      tasksModule: 'test/fixtures/objectTasks.ts',
      concurrency: 2,
      logger: pino({ level: 'debug' }, sink),
      objects: { cacheDir, dir: shared },
    });
    machines.push({ worker, cacheDir, events });
  }
}, 60_000);

afterAll(async () => {
  await client?.close();
  await Promise.all(machines.map((m) => m.worker.close()));
  await rm(root, { recursive: true, force: true });
});

describe('ctx.get in handlers', () => {
  it('gives 60 tasks on two machines one 3 MB buffer, fetched from the shared directory at most once per machine', async () => {
    const data = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = i % 256;
    const expected = data.reduce((sum, byte) => sum + byte, 0);
    const ref = await client.put(data);
    expect(ref.store).toBe('fs');
    const parts = Array.from({ length: 60 }, (_, part) => ({ data: ref, part }));
    const results = await client.map(sumBytes, parts, { chunkSize: 1 }).toArray();
    expect(results).toEqual(parts.map(({ part }) => ({ sum: expected, part })));
    for (const machine of machines) {
      expect(eventsOf(machine, 'object:fetched')).toBeLessThanOrEqual(1);
      expect((await readdir(machine.cacheDir).catch(() => [])).filter((f) => !f.endsWith('.tmp'))).toEqual(eventsOf(machine, 'object:fetched') === 1 ? [ref.sha256] : []);
    }
    expect(machines.reduce((n, m) => n + eventsOf(m, 'object:fetched'), 0)).toBeGreaterThanOrEqual(1);
  });

  it('reads a value kept in Redis from a sandbox and from an inline task', async () => {
    const ref = await client.put({ rows: [[1, 2], [3, 4], [5, 6]] });
    expect(ref.store).toBe('redis');
    expect(await (await client.submit(countRows, { table: ref })).result({ timeoutMs: 20_000 })).toBe(3);
    expect(await (await client.submit(countRowsInline, { table: ref })).result({ timeoutMs: 20_000 })).toBe(3);
  });

  it('fetches a cached object again when its file was corrupted, and never uses the bad bytes', async () => {
    const data = Buffer.alloc(200_000, 7);
    const ref = await client.put(data);
    // Every machine's cache holds a copy of the right size with the wrong bytes (a disk error, a bad write).
    for (const machine of machines) {
      await mkdir(machine.cacheDir, { recursive: true });
      await writeFile(join(machine.cacheDir, ref.sha256), Buffer.alloc(data.length, 9));
    }
    const refetchesBefore = machines.map((m) => eventsOf(m, 'object:refetch'));
    const sums = await client.map(sumBytes, Array.from({ length: 8 }, (_, part) => ({ data: ref, part })), { chunkSize: 1 }).toArray();
    expect(sums.every((r) => r.sum === 7 * data.length)).toBe(true);
    const refetched = machines.filter((m, i) => eventsOf(m, 'object:refetch') > refetchesBefore[i]!);
    expect(refetched.length).toBeGreaterThanOrEqual(1);
    // A machine that refetched holds the right bytes again.
    for (const machine of refetched) expect((await readFile(join(machine.cacheDir, ref.sha256))).equals(data)).toBe(true);
  });

  it('fails the attempt with ObjectNotFoundError (OBJECT_NOT_FOUND) when the object is gone', async () => {
    const ref = await client.put(Buffer.from('short-lived'));
    await client.delete(ref);
    const failed = (await client.submit(sumBytes, { data: ref, part: 1 })).result({ timeoutMs: 20_000 });
    // taskpool's own error, rebuilt as its class, never retried (it will not come back).
    await expect(failed).rejects.toBeInstanceOf(ObjectNotFoundError);
    await expect(failed).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
  });

  it('carries big inputs and outputs through the shared directory by reference (the claim check), on both machines', async () => {
    const lengths = [1_200_000, 10, 1_300_000, 1_250_000];
    const handles = await Promise.all(lengths.map((n) => client.submit(textLength, { text: 'c'.repeat(n) })));
    const redis = createRedisConnection(redisUrl(), 'producer');
    try {
      for (const [i, handle] of handles.entries()) {
        const data = JSON.parse((await redis.hget(`${prefix}:default:${handle.id}`, 'data'))!) as { inputRef?: Ref };
        if (lengths[i]! > 1_000_000) expect(data.inputRef?.store).toBe('fs');
        else expect(data.inputRef).toBeUndefined();
      }
    } finally {
      redis.disconnect();
    }
    expect(await Promise.all(handles.map((h) => h.result({ timeoutMs: 20_000 })))).toEqual(lengths);
    const texts = await client.map(makeText, [{ n: 1_100_000 }, { n: 3 }, { n: 1_150_000 }], { chunkSize: 1 }).toArray();
    expect(texts.map((t) => t.length)).toEqual([1_100_000, 3, 1_150_000]);
  });

  it('refuses an input whose reference field holds no reference, before anything is enqueued', async () => {
    await expect(client.submit(sumBytes, { data: { id: 'x' } as never, part: 0 })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});
