import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chain, chord, ConfigError, createClient, group, isRef, ObjectNotFoundError, type TaskpoolClient } from '@taskpool/core';
import { createRedisConnection, getObject, ownedObjectCount, putObject, REDIS_OBJECT_CHUNK_BYTES, RedisObjectStore, sweepOwnedObjects } from '@taskpool/core/internal';
import { startTestWorker } from '@taskpool/core/testing';
import type { TaskpoolWorker } from '@taskpool/core/worker';
import { fanOut, inc, sleepy, square, sum } from './fixtures/workflowTasks.ts';
import { keyed } from './fixtures/gateTasks.ts';
import { replayRuns } from './helpers/overlap.ts';
import { startRedisCluster, type LocalRedisCluster } from './helpers/redisCluster.ts';
import { eventually } from './helpers/spawnService.ts';

// A real three-node Redis Cluster of this file's own (not the run's shared Redis).
const prefix = '{tp-t-cluster}';
let cluster: LocalRedisCluster;
let client: TaskpoolClient;
let worker: TaskpoolWorker;

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  client = createClient({ redisUrl: cluster.url, prefix });
  worker = await startTestWorker({ redisUrl: cluster.url, prefix, tasksModule: 'test/fixtures/workflowTasks.ts', concurrency: 2 });
}, 60_000);

afterAll(async () => {
  await client?.close();
  await worker?.close();
  await cluster?.stop();
});

const squares = (count: number): number => Array.from({ length: count }, (_, n) => n * n).reduce((a, b) => a + b, 0);

describe('on a Redis Cluster, with a hash-tagged prefix', () => {
  it('runs tasks and maps', async () => {
    expect(await (await client.submit(square, { n: 12 })).result({ timeoutMs: 20_000 })).toBe(144);
    const inputs = Array.from({ length: 300 }, (_, n) => ({ n }));
    expect(await client.map(square, inputs, { chunkSize: 7 }).toArray()).toEqual(inputs.map(({ n }) => n * n));
  });

  it('runs a workflow with a chord, a fan-out from a handler and a nested group', async () => {
    const handle = await client.run(chain(square.with({ n: 2 }), inc, group([inc, chord(group([square.with({ n: 3 }), fanOut.with({ count: 30 })]), sum)]), sum));
    expect(await handle.result({ timeoutMs: 60_000 })).toBe(6 + 9 + squares(30));
    expect((await handle.status()).state).toBe('completed');
  });

  it('cancels a workflow', async () => {
    const handle = await client.run(chord(group([1, 2, 3, 4].map((n) => sleepy.with({ n, ms: 60_000 }))), sum));
    await eventually(async () => (await handle.status()).root.children.some((s) => s.state === 'active'), 'a member running');
    await handle.cancel();
    await expect(handle.result({ timeoutMs: 20_000 })).rejects.toMatchObject({ code: 'CANCELLED' });
  });

  it('stores objects by reference (chunked, with their index) and reads, counts and deletes them', async () => {
    const redis = createRedisConnection(cluster.url, 'producer');
    try {
      const store = new RedisObjectStore(redis, prefix);
      const big = Buffer.alloc(2 * REDIS_OBJECT_CHUNK_BYTES + 99, 3);
      const refs = await Promise.all([putObject(store, big, { maxBytes: 1 << 26 }), putObject(store, { kept: true }, { maxBytes: 1 << 26 })]);
      expect((await getObject(store, refs[0])).equals(big)).toBe(true);
      expect(await store.usage()).toEqual({ objects: 2, bytes: big.length + refs[1].size });
      expect(await store.delete(refs[0].id)).toBe(true);
      await expect(getObject(store, refs[0])).rejects.toBeInstanceOf(ObjectNotFoundError);
      // The second one stays: the next test finds its keys in the prefix's slot with the rest.
      expect(await getObject(store, refs[1])).toEqual({ kept: true });
    } finally {
      redis.disconnect();
    }
  });

  it('carries a big input by reference (the claim check) and sweeps the objects of jobs without a cross-slot call', async () => {
    const values = Array.from({ length: 20_000 }, (_, n) => n);
    const handle = await client.submit(sum, values);
    expect(await handle.result({ timeoutMs: 20_000 })).toBe(values.reduce((a, b) => a + b, 0));
    const redis = createRedisConnection(cluster.url, 'producer');
    try {
      const data = JSON.parse((await redis.hget(`${prefix}:default:${handle.id}`, 'data'))!) as { inputRef?: unknown; input?: unknown };
      expect(data.input).toBeUndefined();
      expect(isRef(data.inputRef)).toBe(true);
      expect(await ownedObjectCount(redis, prefix)).toBe(1);
      // Its job exists: nothing goes.
      expect(await sweepOwnedObjects(redis, prefix, [new RedisObjectStore(redis, prefix)], { graceMs: 0 })).toBe(0);
    } finally {
      redis.disconnect();
    }
  });

  it('keeps concurrency limits per key and per task (the admission gate)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tp-cluster-gate-'));
    const gateWorker = await startTestWorker({ redisUrl: cluster.url, prefix, tasksModule: 'test/fixtures/gateTasks.ts', queues: ['gate'] });
    try {
      const log = join(dir, 'gate.log');
      const handles = await Promise.all(Array.from({ length: 30 }, (_, n) => client.submit(keyed, { key: `k${n % 3}`, n, log, ms: 20 })));
      expect((await Promise.all(handles.map((h) => h.result({ timeoutMs: 30_000 })))).map((r) => r.n)).toEqual(Array.from({ length: 30 }, (_, n) => n));
      const { maxAll, maxPerKey } = replayRuns(log);
      const maxKey = Math.max(...maxPerKey.values());
      expect(maxAll).toBeLessThanOrEqual(5);
      expect(maxKey).toBeLessThanOrEqual(2);
      expect(maxKey).toBe(2);
    } finally {
      await gateWorker.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps every key in the one slot of the prefix’s hash tag, on one node', async () => {
    const perNode = await Promise.all(
      cluster.nodes.map(async (node) => {
        const redis = new Redis(node.url);
        try {
          return Number(await redis.dbsize());
        } finally {
          redis.disconnect();
        }
      }),
    );
    expect(perNode.filter((n) => n > 0)).toHaveLength(1);
    expect(Math.max(...perNode)).toBeGreaterThan(50);
  });

  it('refuses a prefix without a hash tag', () => {
    expect(() => createClient({ redisUrl: cluster.url, prefix: 'taskpool' })).toThrow(ConfigError);
  });
});
