import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createClient } from '@taskpool/core';
import { startTestWorker } from '@taskpool/core/testing';
import { listWorkers } from '@taskpool/core/worker';
import { slow } from './fixtures/crashTasks.ts';
import { slowRecord } from './fixtures/tasks.ts';
import { eventually, isAlive, spawnService, spawnWorker, type Service } from './helpers/spawnService.ts';
import { redisUrl, testPrefix } from './helpers/testRedis.ts';

const basePrefix = testPrefix(import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'tp-faults-'));
const services: Service[] = [];
const redis = new Redis(redisUrl());

afterAll(async () => {
  await Promise.all(services.map((s) => s.stop('SIGKILL')));
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

const executions = (file: string): number[] => readFileSync(file, 'utf8').trim().split('\n').map(Number);

describe('kill -9', () => {
  it('of a sandbox mid-task: the attempt fails, is retried, and every task completes exactly once', async () => {
    const prefix = `${basePrefix}-sandbox`;
    await using client = createClient({ redisUrl: redisUrl(), prefix });
    await using worker = await startTestWorker({ redisUrl: redisUrl(), prefix, tasksModule: 'test/fixtures/tasks.ts', concurrency: 2 });
    const file = join(dir, 'sandbox.log');
    const handles = await Promise.all(Array.from({ length: 20 }, (_, id) => client.submit(slowRecord, { id, ms: 200, file }, { attempts: 3, backoff: { type: 'fixed', delayMs: 10 } })));
    await eventually(async () => (await handles[2]!.status())?.state === 'active', 'a task running');
    const victim = worker.sandboxPids[0]!;
    process.kill(victim, 'SIGKILL');
    const results = await Promise.all(handles.map((h) => h.result({ timeoutMs: 60_000 })));
    expect(results.map((r) => r.id)).toEqual(handles.map((_, id) => id));
    expect(new Set(executions(file))).toEqual(new Set(handles.map((_, id) => id)));
    expect(worker.sandboxPids).not.toContain(victim);
    await eventually(() => worker.sandboxPids.length === 2, 'a replacement for the killed sandbox');
  });

  it('of a whole worker instance mid-run, another alive: every task completes exactly once, none lost', async () => {
    const prefix = `${basePrefix}-instance`;
    await using client = createClient({ redisUrl: redisUrl(), prefix });
    // The default lock and stalled interval: the killed worker's jobs are back within 14 s.
    const [a, b] = await Promise.all([0, 1].map(() => spawnWorker({ redisUrl: redisUrl(), prefix, tasks: 'test/fixtures/tasks.ts', concurrency: 2 })));
    services.push(a!, b!);
    const file = join(dir, 'instance.log');
    const handles = await Promise.all(Array.from({ length: 30 }, (_, id) => client.submit(slowRecord, { id, ms: 300, file }, { attempts: 3 })));
    await a!.waitFor((line) => line.event === 'job:start');
    process.kill(a!.pid, 'SIGKILL');
    await a!.exited;
    // Its sandboxes go with it (they exit when their IPC channel closes).
    await eventually(() => a!.sandboxPids.every((pid) => !isAlive(pid)), "the killed worker's sandboxes gone", 10_000);

    const results = await Promise.all(handles.map((h) => h.result({ timeoutMs: 90_000 })));
    expect(results.map((r) => r.id)).toEqual(handles.map((_, id) => id));
    expect(new Set(executions(file))).toEqual(new Set(handles.map((_, id) => id)));
    const statuses = await Promise.all(handles.map((h) => h.status()));
    expect(statuses.every((s) => s?.state === 'completed')).toBe(true);
    expect(results.filter((r) => r.ppid === b!.pid).length).toBeGreaterThan(0);
  });
});

describe('a failing setup()', () => {
  it('is reported clearly and retried with backoff, not in a crash loop', async () => {
    const prefix = `${basePrefix}-setup`;
    const worker = spawnService('taskpool-worker', ['--tasks', 'test/fixtures/badSetup.ts', '--concurrency', '1'], { REDIS_URL: redisUrl(), TASKPOOL_PREFIX: prefix });
    services.push(worker);
    await worker.waitFor((line) => line.event === 'sandbox:start-failed' && Number(line.retryInMs) >= 2_000, 30_000);
    const failures = worker.lines.filter((line) => line.event === 'sandbox:start-failed');
    expect(String(failures[0]!.msg)).toContain('Task module setup failed: model file /models/missing.bin not found');
    const delays = failures.map((line) => Number(line.retryInMs));
    expect(delays).toEqual([...delays].sort((x, y) => x - y));
    expect(failures.length).toBeLessThanOrEqual(4);
    // The worker serves nothing: it says it is unhealthy (the registry test of sandboxStartFailures.test.ts).
    expect(worker.lines.some((line) => line.event === 'pool:ready')).toBe(false);
    expect(worker.lines.filter((line) => line.event === 'worker:ready').every((line) => line.healthy === false)).toBe(true);
    expect(isAlive(worker.pid)).toBe(true);
  });
});

describe('graceful shutdown with a deadline', () => {
  it('puts a task still running after shutdownGraceMs back to waiting, not failed', async () => {
    const prefix = `${basePrefix}-grace`;
    await using client = createClient({ redisUrl: redisUrl(), prefix });
    const worker = await startTestWorker({ redisUrl: redisUrl(), prefix, tasksModule: 'test/fixtures/crashTasks.ts', shutdownGraceMs: 300 });
    const handle = await client.submit(slow, { ms: 5_000 });
    await eventually(async () => (await handle.status())?.state === 'active', 'the task running');
    await worker.close();
    const view = await handle.status();
    expect(view?.state).toBe('waiting');
    expect(view?.attempts).toBe(0);
    expect(view?.error).toBeUndefined();
    await using next = await startTestWorker({ redisUrl: redisUrl(), prefix, tasksModule: 'test/fixtures/crashTasks.ts' });
    await expect(handle.result({ timeoutMs: 20_000 })).resolves.toEqual({ pid: next.sandboxPids[0] });
  });
});

describe('the worker registry', () => {
  it('lists live workers with their sandboxes, and forgets one that stops or dies', async () => {
    const prefix = `${basePrefix}-registry`;
    const quiet = await startTestWorker({ redisUrl: redisUrl(), prefix, tasksModule: 'test/fixtures/crashTasks.ts', concurrency: 2 });
    const dying = await spawnWorker({ redisUrl: redisUrl(), prefix, tasks: 'test/fixtures/crashTasks.ts', concurrency: 1 });
    services.push(dying);
    await eventually(async () => (await listWorkers(redis, prefix)).length === 2, 'two workers listed');
    const listed = await listWorkers(redis, prefix);
    const mine = listed.find((w) => w.id === quiet.id)!;
    expect(mine).toMatchObject({ pid: process.pid, concurrency: 2, queues: ['default'], busy: 0, version: '0.1.0' });
    expect(mine.sandboxes.map((s) => s.pid).sort()).toEqual([...quiet.sandboxPids].sort());
    expect(mine.sandboxes[0]!.rssMb).toBeGreaterThan(10);
    expect(listed.find((w) => w.pid === dying.pid)?.sandboxes.map((s) => s.pid)).toEqual(dying.sandboxPids);

    await quiet.close();
    expect((await listWorkers(redis, prefix)).map((w) => w.pid)).toEqual([dying.pid]);
    process.kill(dying.pid, 'SIGKILL');
    await eventually(async () => (await listWorkers(redis, prefix)).length === 0, 'the killed worker forgotten', 15_000, 250);
  });
});
