import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '@taskpool/core';
import { startTestWorker } from '@taskpool/core/testing';
import type { TaskpoolWorker } from '@taskpool/core/worker';
import { exits, hog, spin, whereAmI } from './fixtures/threadTasks.ts';
import { failedView } from './helpers/settle.ts';
import { redisUrl, testPrefix } from './helpers/testRedis.ts';

const prefix = testPrefix(import.meta.url);
const client = createClient({ redisUrl: redisUrl(), prefix });
let worker: TaskpoolWorker;

beforeAll(async () => {
  worker = await startTestWorker({ redisUrl: redisUrl(), prefix, tasksModule: 'test/fixtures/threadTasks.ts', concurrency: 2, maxMemoryMb: 64, killGraceMs: 200 });
});

afterAll(async () => {
  await client.close();
  await worker?.close();
});

const runWhere = async () => (await client.submit(whereAmI, {})).result({ timeoutMs: 20_000 });

describe('thread isolation', () => {
  it('runs tasks in worker threads of the worker process', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, runWhere));
    expect(new Set(results.map((r) => r.pid))).toEqual(new Set([process.pid]));
    expect(results.every((r) => r.threadId > 0)).toBe(true);
    expect(new Set(results.map((r) => r.threadId)).size).toBe(2);
  });

  it('terminates a thread stuck in a loop at its timeout; the pool keeps serving', async () => {
    const view = await failedView(await client.submit(spin, {}));
    expect(view.error, JSON.stringify(view.error)).toMatchObject({ reason: 'timeout' });
    expect((await runWhere()).pid).toBe(process.pid);
  });

  it('fails only the attempt when a handler calls process.exit, and when it runs out of heap', async () => {
    expect((await failedView(await client.submit(exits, {}))).error).toMatchObject({ reason: 'exit', fields: { exitCode: 3 } });
    expect((await failedView(await client.submit(hog, {}))).error?.reason).toBe('oom');
    const after = await Promise.all(Array.from({ length: 10 }, runWhere));
    expect(after).toHaveLength(10);
    expect(worker.sandboxesStarted).toBeGreaterThanOrEqual(4);
  });
});
