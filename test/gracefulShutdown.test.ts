import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createClient } from '@taskpool/core';
import { startLocalRedis, type LocalRedis } from '../scripts/localRedis.ts';
import { slowRecord } from './fixtures/tasks.ts';
import { eventually, isAlive, spawnWorker, type Service } from './helpers/spawnService.ts';
import { redisUrl, testPrefix } from './helpers/testRedis.ts';

const prefix = testPrefix(import.meta.url);
const client = createClient({ redisUrl: redisUrl(), prefix });
const dir = mkdtempSync(join(tmpdir(), 'tp-shutdown-'));
const services: Service[] = [];
const redisServers: LocalRedis[] = [];

afterAll(async () => {
  await Promise.all(services.map((s) => s.stop('SIGKILL')));
  await Promise.all(redisServers.map((r) => r.stop()));
  await client.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SIGTERM to a worker mid-run', () => {
  it('lets running tasks finish, leaves the rest to the other worker, and every task runs exactly once', async () => {
    const file = join(dir, 'executions.log');
    const [a, b] = await Promise.all([0, 1].map(() => spawnWorker({ redisUrl: redisUrl(), prefix, tasks: 'test/fixtures/tasks.ts', concurrency: 2 })));
    services.push(a!, b!);
    const handles = await Promise.all(Array.from({ length: 30 }, (_, id) => client.submit(slowRecord, { id, ms: 400, file })));

    // Wait until worker A is in the middle of tasks, then stop it.
    await a!.waitFor((line) => line.event === 'job:start');
    a!.child.kill('SIGTERM');
    const signalled = await a!.waitFor((line) => line.event === 'worker:signal');
    const exit = await a!.exited;
    expect(exit).toEqual({ code: 0, signal: null });

    const results = await Promise.all(handles.map((h) => h.result({ timeoutMs: 60_000 })));
    expect(results.map((r) => r.id)).toEqual(handles.map((_, id) => id));

    // Exactly once: every id executed one time, no more.
    const executed = readFileSync(file, 'utf8').trim().split('\n').map(Number).sort((x, y) => x - y);
    expect(executed).toEqual(handles.map((_, id) => id));

    // What A had started before the signal, A finished; A requeued nothing; B ran the rest.
    const startedOnA = a!.lines.filter((l) => l.event === 'job:start' && Number(l.time) <= Number(signalled.time)).map((l) => l.jobId);
    const doneOnA = new Set(a!.lines.filter((l) => l.event === 'job:done').map((l) => l.jobId));
    expect(startedOnA.length).toBeGreaterThan(0);
    for (const jobId of startedOnA) expect(doneOnA.has(jobId)).toBe(true);
    expect(a!.lines.some((l) => l.event === 'job:requeued' || l.event === 'job:fail')).toBe(false);
    const byB = results.filter((r) => r.ppid === b!.pid).length;
    expect(byB + doneOnA.size).toBe(30);
    expect(byB).toBeGreaterThan(0);
  });
});

describe('SIGTERM to a worker with nothing running', () => {
  it('exits at once (under 2 s by design), code 0, even with its Redis gone', async () => {
    const server = await startLocalRedis({ dir: join(dir, 'redis') });
    redisServers.push(server);
    const worker = await spawnWorker({ redisUrl: server.url, prefix, tasks: 'test/fixtures/tasks.ts', concurrency: 1 });
    services.push(worker);
    process.kill(server.pid, 'SIGKILL');
    await eventually(() => !isAlive(server.pid), 'redis-server gone', 10_000);
    // The worker has seen the connection drop (it retries for ever).
    await worker.waitFor((line) => line.event === 'redis:error');

    const signalledAt = Date.now();
    worker.child.kill('SIGTERM');
    const exit = await worker.exited;
    const exitMs = Date.now() - signalledAt;
    expect(exit).toEqual({ code: 0, signal: null });
    // Designed for about 1.4 s (1 s for BullMQ's close, 0.4 s for the Redis calls of shutdown), not the 30 s grace;
    // slack for a busy VM.
    expect(exitMs, `exited ${exitMs} ms after SIGTERM`).toBeLessThanOrEqual(5_000);
    expect(worker.lines.some((line) => line.event === 'worker:stopped')).toBe(true);
  });
});
