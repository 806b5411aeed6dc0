import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '@taskpool/core';
import { startTestWorker } from '@taskpool/core/testing';
import type { TaskpoolWorker } from '@taskpool/core/worker';
import { wait } from './fixtures/inlineTasks.ts';
import { failedView } from './helpers/settle.ts';
import { redisUrl, testPrefix } from './helpers/testRedis.ts';

const prefix = testPrefix(import.meta.url);
const client = createClient({ redisUrl: redisUrl(), prefix });
let worker: TaskpoolWorker;

beforeAll(async () => {
  worker = await startTestWorker({ redisUrl: redisUrl(), prefix, tasksModule: 'test/fixtures/inlineTasks.ts', concurrency: 1, inlineConcurrency: 200 });
});

afterAll(async () => {
  await client.close();
  await worker?.close();
});

describe('inline isolation', () => {
  it('runs hundreds of I/O-bound jobs at once on the worker itself, without sandboxes', async () => {
    const handles = await Promise.all(Array.from({ length: 200 }, () => client.submit(wait, { ms: 200 })));
    const started = Date.now();
    const results = await Promise.all(handles.map((h) => h.result({ timeoutMs: 30_000 })));
    // 200 × 200 ms one at a time would be 40 s; at once they take a few hundred ms.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(new Set(results.map((r) => r.pid))).toEqual(new Set([process.pid]));
    expect(worker.queues).toEqual(['io']);
  });

  it('times out cooperatively: the signal fires and the attempt fails as timeout', async () => {
    const view = await failedView(await client.submit(wait, { ms: 10_000 }));
    expect(view.error).toMatchObject({ reason: 'timeout', code: 'TASK_TIMEOUT' });
    expect(view.error?.message).toMatch(/inline/);
  });
});
