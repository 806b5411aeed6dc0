import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type TaskpoolClient } from '@taskpool/core';
import { startTestWorker } from '@taskpool/core/testing';
import type { TaskpoolWorker } from '@taskpool/core/worker';
import { exits, hog, leak, ok, slow, spinLimited } from './fixtures/crashTasks.ts';
import { failedView } from './helpers/settle.ts';
import { eventually, isAlive } from './helpers/spawnService.ts';
import { redisUrl, testPrefix } from './helpers/testRedis.ts';

const basePrefix = testPrefix(import.meta.url);
let client: TaskpoolClient;
const workers: TaskpoolWorker[] = [];
let n = 0;
/** A worker and a client on a prefix of their own, so a test that fails leaves nothing for the next. */
const start = async (options: Partial<Parameters<typeof startTestWorker>[0]> = {}): Promise<TaskpoolWorker> => {
  const prefix = `${basePrefix}-${n++}`;
  client = createClient({ redisUrl: redisUrl(), prefix });
  const worker = await startTestWorker({ redisUrl: redisUrl(), prefix, tasksModule: 'test/fixtures/crashTasks.ts', concurrency: 2, shutdownGraceMs: 2_000, ...options });
  workers.push(worker);
  return worker;
};

afterEach(async () => {
  await client?.close();
  await Promise.all(workers.splice(0).map((w) => w.close()));
});

describe('hard timeouts', () => {
  it('kills an infinite loop after timeout + grace; only its own process dies', async () => {
    const worker = await start({ killGraceMs: 300 });
    const [a, b] = worker.sandboxPids;
    // Keep the other sandbox busy and alive through the timeout.
    const busy = await client.submit(slow, { ms: 1_500 });
    const started = Date.now();
    const handle = await client.submit(spinLimited, {});
    const view = await failedView(handle);
    const tookMs = Date.now() - started;
    expect(view.error).toMatchObject({ reason: 'timeout', code: 'TASK_TIMEOUT' });
    expect(tookMs).toBeGreaterThanOrEqual(500);
    expect(tookMs).toBeLessThan(500 + 300 + 2_000);
    const { pid: busyPid } = await busy.result({ timeoutMs: 10_000 });
    const killed = [a, b].find((pid) => pid !== busyPid)!;
    expect(isAlive(killed)).toBe(false);
    expect(isAlive(busyPid)).toBe(true);
    expect(worker.sandboxPids).toContain(busyPid);
    await eventually(() => worker.sandboxPids.length === 2, 'a replacement for the killed sandbox');
  });
});

describe('memory caps', () => {
  it('fails a memory hog with reason oom under maxMemoryMb: 128, and the worker survives', async () => {
    const worker = await start({ maxMemoryMb: 128, concurrency: 1 });
    const view = await failedView(await client.submit(hog, {}));
    expect(view.error?.reason).toBe('oom');
    const { pid } = await (await client.submit(ok, {})).result({ timeoutMs: 20_000 });
    expect(worker.sandboxPids).toEqual([pid]);
  });
});

describe('recycling', () => {
  it('replaces a process after maxTasksPerProcess tasks, between tasks', async () => {
    const worker = await start({ concurrency: 1, maxTasksPerProcess: 5 });
    const pids: number[] = [];
    for (let i = 0; i < 12; i++) pids.push((await (await client.submit(ok, {})).result({ timeoutMs: 20_000 })).pid);
    const runs = [...new Set(pids)].map((pid) => pids.filter((p) => p === pid).length);
    expect(runs).toEqual([5, 5, 2]);
    expect(worker.sandboxesStarted).toBe(3);
  });

  it('replaces a process over maxRssMbPerProcess, and never kills a running task for it', async () => {
    const worker = await start({ concurrency: 1, maxRssMbPerProcess: 150 });
    const pids: number[] = [];
    for (let i = 0; i < 10; i++) pids.push((await (await client.submit(leak, {})).result({ timeoutMs: 20_000 })).pid);
    // Each task keeps 16 MiB: a process is replaced once it is over 150 MiB, and every task completed.
    expect(new Set(pids).size).toBeGreaterThan(1);
    expect(pids).toHaveLength(10);
    expect(worker.sandboxesStarted).toBe(new Set(pids).size + 0);
  });
});

describe('quarantine', () => {
  it('fails a job for good as quarantined after 3 crashes, whatever its attempts', async () => {
    await start({ concurrency: 1 });
    const handle = await client.submit(exits, {}, { attempts: 10, backoff: { type: 'fixed', delayMs: 10 } });
    const view = await failedView(handle);
    expect(view.attempts).toBe(3);
    expect(view.error).toMatchObject({ reason: 'quarantined', fields: { crashes: 3 } });
    expect(view.error?.cause).toMatchObject({ reason: 'exit' });
  });
});
