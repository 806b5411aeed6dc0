import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { collectTasks, createAdmin, createClient } from '@taskpool/core';
import { startTestWorker, testFetchMode } from '@taskpool/core/testing';
import * as gatedTasks from './fixtures/gatedSetup.ts';
import { hold, setupGatePath } from './fixtures/gatedSetup.ts';
import { startLogPath, whoRuns } from './fixtures/slowSetup.ts';
import { startProducerStack } from './helpers/producerStack.ts';
import { disconnects, ok } from './fixtures/crashTasks.ts';
import { failedView } from './helpers/settle.ts';
import { eventually, isAlive } from './helpers/spawnService.ts';
import { connectRedis, redisUrl, testPrefix } from './helpers/testRedis.ts';

const basePrefix = testPrefix(import.meta.url);
const gate = setupGatePath(process.pid);
const startLog = startLogPath(process.pid);
afterAll(() => {
  rmSync(gate, { force: true });
  rmSync(startLog, { force: true });
});

describe('a worker whose sandboxes cannot start', () => {
  it('survives a fork the OS refuses (missing Node binary), reports itself unhealthy, and fetches nothing', async () => {
    const prefix = `${basePrefix}-fork`;
    await using client = createClient({ redisUrl: redisUrl(), prefix });
    await using admin = createAdmin({ redisUrl: redisUrl(), prefix });
    const handle = await client.submit(hold, { ms: 0 });
    await using worker = await startTestWorker({ redisUrl: redisUrl(), prefix, tasksModule: 'test/fixtures/gatedSetup.ts', concurrency: 2, sandboxExecPath: '/nonexistent/bin/node' });
    expect(worker.healthy).toBe(false);
    expect(worker.sandboxPids).toEqual([]);
    await eventually(async () => (await admin.workers()).some((w) => w.id === worker.id && w.healthy === false), 'the registry saying unhealthy');
    const [info] = (await admin.workers()).filter((w) => w.id === worker.id);
    expect(info?.unhealthyReason).toMatch(/No sandbox can start .*ENOENT/);
    // Another heartbeat later, the job is still waiting, never taken.
    const beat = info!.heartbeatAt;
    await eventually(async () => (await admin.workers()).some((w) => w.id === worker.id && w.heartbeatAt > beat), 'a later heartbeat');
    expect(await handle.status()).toMatchObject({ state: 'waiting', attempts: 0 });
  });

  it('gives fetched jobs back to waiting when no sandbox can start any more, says so in the registry and on the dashboard, and recovers', async () => {
    const prefix = `${basePrefix}-gate`;
    await using client = createClient({ redisUrl: redisUrl(), prefix });
    await using producer = await startProducerStack({ redisUrl: redisUrl(), prefix, tasks: collectTasks(gatedTasks) });
    await using redis = await connectRedis(redisUrl());
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'debug' }, { write: (text: string) => void lines.push(JSON.parse(text) as Record<string, unknown>) });
    await using worker = await startTestWorker({ redisUrl: redisUrl(), prefix, tasksModule: 'test/fixtures/gatedSetup.ts', concurrency: 1, logger });
    expect(worker.healthy).toBe(true);
    // One job runs, the next waits for the sandbox.
    const running = await client.submit(hold, { ms: 60_000 }, { attempts: 1 });
    await eventually(async () => (await running.status())?.state === 'active', 'the first job running');
    const next = await client.submit(hold, { ms: 0 });
    // From now on no sandbox can start; the only one dies (kill -9).
    writeFileSync(gate, 'closed');
    const [pid] = worker.sandboxPids;
    process.kill(pid!, 'SIGKILL');
    await expect(running.result({ timeoutMs: 20_000 })).rejects.toMatchObject({ name: 'SandboxCrashError' });

    // The next job was fetched as the first one failed, waited for a sandbox, and is given back: waiting, no
    // attempt counted, no lock held (not in the active list).
    await eventually(() => !worker.healthy, 'the worker unhealthy');
    await eventually(async () => (await next.status())?.state === 'waiting', 'the fetched job back to waiting');
    expect(await next.status()).toMatchObject({ state: 'waiting', attempts: 0 });
    // Sandboxes that take their own jobs (`fetch: 'sandbox'`) never fetched it: nothing to give back.
    if (testFetchMode() === 'supervisor') expect(lines.find((line) => line.event === 'job:requeued' && line.jobId === next.id)).toMatchObject({ code: 'SANDBOX_UNAVAILABLE' });
    else expect(lines.filter((line) => line.event === 'job:requeued')).toEqual([]);
    expect(lines.some((line) => line.event === 'pool:unhealthy')).toBe(true);
    expect(await redis.lrange(`${prefix}:${hold.defaults.queue ?? 'default'}:active`, 0, -1)).toEqual([]);
    await eventually(async () => (await producer.admin.workers()).some((w) => w.id === worker.id && w.healthy === false), 'the registry saying unhealthy', 10_000);
    const [info] = (await producer.admin.workers()).filter((w) => w.id === worker.id);
    expect(info?.unhealthyReason).toMatch(/No sandbox can start .*setup gate closed: the model server is down/);
    const overview = (await producer.request({ method: 'GET', url: '/dashboard/fragments/overview' })).body;
    expect(overview).toContain(`data-worker="${worker.id}" data-healthy="false"`);
    expect(overview).toMatch(/unhealthy<\/span> <span class="message">No sandbox can start/);

    // Sandboxes can start again: the pool's retry starts one, the worker resumes and runs the job.
    rmSync(gate);
    await expect(next.result({ timeoutMs: 45_000 })).resolves.toMatchObject({ pid: expect.any(Number) });
    expect(worker.healthy).toBe(true);
    await eventually(async () => (await producer.admin.workers()).some((w) => w.id === worker.id && w.healthy === true), 'the registry saying healthy');
  });
});

describe('a sandbox killed from outside while it starts', () => {
  it('is replaced at once, every time, with no start failure counted, no backoff and the pool healthy', async () => {
    const prefix = `${basePrefix}-killstart`;
    rmSync(startLog, { force: true });
    await using client = createClient({ redisUrl: redisUrl(), prefix });
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'debug' }, { write: (text: string) => void lines.push(JSON.parse(text) as Record<string, unknown>) });
    await using worker = await startTestWorker({ redisUrl: redisUrl(), prefix, tasksModule: 'test/fixtures/slowSetup.ts', concurrency: 1, logger });
    const starting = (): number[] => (existsSync(startLog) ? readFileSync(startLog, 'utf8').trim().split('\n').map(Number) : []);
    expect(starting()).toEqual(worker.sandboxPids);
    let healthy = true;
    const watch = setInterval(() => (healthy &&= worker.healthy), 20);
    // The ready sandbox dies; then each replacement is killed during its setup(), five times in a row. The
    // old backoff would have waited 250 ms, 1 s, 2 s, 5 s and 10 s before the next start.
    process.kill(worker.sandboxPids[0]!, 'SIGKILL');
    const gapsMs: number[] = [];
    for (let kill = 0; kill < 5; kill++) {
      const seen = starting().length;
      const killedAt = Date.now();
      await eventually(() => starting().length > seen, `replacement ${kill + 1} starting`, 20_000, 10);
      gapsMs.push(Date.now() - killedAt);
      process.kill(starting().at(-1)!, 'SIGKILL');
    }
    // The last replacement is left alone: it gets ready and runs a task.
    const last = await (async () => {
      const seen = starting().length;
      await eventually(() => starting().length > seen, 'the last replacement starting', 20_000, 10);
      return starting().at(-1)!;
    })();
    await expect((await client.submit(whoRuns, {})).result({ timeoutMs: 30_000 })).resolves.toEqual({ pid: last });
    clearInterval(watch);

    const killed = lines.filter((line) => line.event === 'sandbox:start-killed');
    expect(killed).toHaveLength(5);
    expect(killed.every((line) => line.signal === 'SIGKILL' && line.retryInMs === 0 && line.level === 40)).toBe(true);
    expect(lines.filter((line) => line.event === 'sandbox:start-failed' || line.event === 'pool:unhealthy')).toEqual([]);
    expect(healthy).toBe(true);
    // The pool's decision is in the log (retryInMs 0, no failure counted: the backoff is derived from the count).
    // From a kill to the next setup() is one fork and module import, 2 to 7 s on a busy 2-core VM: a loose bound.
    expect(Math.max(...gapsMs), `kill-to-replacement gaps ${gapsMs.join(', ')} ms`).toBeLessThan(20_000);
  });
});

describe('a sandbox that cuts its IPC channel while it runs', () => {
  it('fails that attempt as unreachable (not a hang), is killed, and the pool serves on', async () => {
    const prefix = `${basePrefix}-ipc`;
    await using client = createClient({ redisUrl: redisUrl(), prefix });
    await using worker = await startTestWorker({ redisUrl: redisUrl(), prefix, tasksModule: 'test/fixtures/crashTasks.ts', concurrency: 1 });
    const [pid] = worker.sandboxPids;
    const handle = await client.submit(disconnects, {}, { attempts: 1 });
    const view = await failedView(handle, 20_000);
    expect(view.error).toMatchObject({ reason: 'exit', code: 'SANDBOX_UNREACHABLE', fields: { pid } });
    expect(view.error?.message).toMatch(/Lost contact with sandbox process \d+: the IPC channel closed/);
    await eventually(() => !isAlive(pid!), 'the cut-off sandbox killed');
    await expect((await client.submit(ok, {})).result({ timeoutMs: 20_000 })).resolves.toMatchObject({ pid: expect.any(Number) });
  });
});
