import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createClient } from '@taskpool/core';
import { startTestWorker } from '@taskpool/core/testing';
import { WORKER_COMMAND_TIMEOUT_MS } from '../packages/core/src/redisConnection.ts';
import { gatedWork } from './fixtures/partitionTasks.ts';
import { startDropProxy } from './helpers/dropProxy.ts';
import { eventually, isAlive, spawnService, spawnWorker, type LogLine, type Service } from './helpers/spawnService.ts';
import { redisUrl, testPrefix } from './helpers/testRedis.ts';

const prefix = testPrefix(import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'tp-partition-'));
const services: Service[] = [];
afterAll(async () => {
  await Promise.all(services.map((s) => s.stop('SIGKILL')));
  rmSync(dir, { recursive: true, force: true });
});

const LOCK_MS = 4_000;
const STALLED_MS = 1_000;
const env = { TASKPOOL_LOCK_DURATION_MS: String(LOCK_MS), TASKPOOL_STALLED_INTERVAL_MS: String(STALLED_MS) };
const TASKS = 'test/fixtures/partitionTasks.ts';

interface Run {
  what: 'start' | 'end';
  id: number;
  pid: number;
}
const runs = (file: string): Run[] =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((line) => line.split(' '))
        .map(([what, id, pid]) => ({ what: what as Run['what'], id: Number(id), pid: Number(pid) }))
    : [];
const ERROR = 50;
const WARN = 40;

describe('a worker cut off from Redis (no FIN, no RST: the network just stops)', () => {
  it('notices within the lock, stops and drops its jobs, which finish elsewhere; on reconnect it warns and carries on', async () => {
    await using proxy = await startDropProxy(redisUrl());
    await using client = createClient({ redisUrl: redisUrl(), prefix });
    const file = join(dir, 'runs.log');
    const gate = (id: number): string => join(dir, `gate-${id}`);
    const open = (id: number): void => writeFileSync(gate(id), '');

    // Worker A reaches Redis through the proxy; it takes both jobs: S (short) and L (long).
    const a = await spawnWorker({ redisUrl: proxy.url, prefix, tasks: TASKS, concurrency: 2, env });
    services.push(a);
    const S = 1;
    const L = 2;
    const submit = (id: number) => client.submit(gatedWork, { id, file, gate: gate(id) }, { attempts: 1 });
    const [short, long] = await Promise.all([submit(S), submit(L)]);
    await eventually(() => runs(file).filter((r) => r.what === 'start').length === 2, 'A running both jobs');
    const onA = new Map(runs(file).map((r) => [r.id, r.pid]));
    expect([...onA.values()].every((pid) => a.sandboxPids.includes(pid))).toBe(true);
    // Worker B talks to Redis directly; it starts idle.
    const b = await spawnWorker({ redisUrl: redisUrl(), prefix, tasks: TASKS, concurrency: 2, env });
    services.push(b);

    // The cut. S finishes on A at once: A holds a result it cannot send.
    proxy.blackhole(true);
    const cutAt = Date.now();
    open(S);
    await eventually(() => runs(file).some((r) => r.what === 'end' && r.id === S && r.pid === onA.get(S)), 'S finished on A');

    // A notices within the lock (plus a check period and slack) and stops L at once (its sandbox SIGKILLed
    // after the 1 s kill grace: the handler ignores its signal).
    const partitioned = await a.waitFor((line) => line.event === 'worker:partitioned', LOCK_MS + 10_000);
    const noticedMs = Date.now() - cutAt;
    expect(partitioned).toMatchObject({ level: ERROR, lockDurationMs: LOCK_MS, jobIds: [String(long.id)] });
    expect(noticedMs).toBeLessThanOrEqual(LOCK_MS + 5_000);
    await eventually(() => !isAlive(onA.get(L)!), "L's sandbox on A stopped", 5_000);
    const stoppedMs = Date.now() - cutAt;
    expect(runs(file).some((r) => r.what === 'end' && r.id === L)).toBe(false);

    // Both jobs run again on B, within the lock and a stalled check (plus slack) of the cut.
    open(L);
    const [resultS, resultL] = await Promise.all([short.result({ timeoutMs: 30_000 }), long.result({ timeoutMs: 30_000 })]);
    const doneMs = Date.now() - cutAt;
    const onB = new Map(runs(file).filter((r) => r.what === 'start' && r.pid !== onA.get(r.id)).map((r) => [r.id, r.pid]));
    expect(resultS).toEqual({ id: S, pid: onB.get(S) });
    expect(resultL).toEqual({ id: L, pid: onB.get(L) });
    expect(doneMs).toBeLessThanOrEqual(LOCK_MS + STALLED_MS + 10_000);

    // The cut heals: A's late result for S is refused by Redis (its lock is gone) and comes out as a warning.
    proxy.blackhole(false);
    const reconnected = await a.waitFor((line) => line.event === 'worker:reconnected', 30_000);
    const lost = (jobId: string) => (line: LogLine) => line.event === 'job:lock-lost' && line.jobId === jobId && line.level === WARN;
    expect(await a.waitFor(lost(long.id), 30_000)).toMatchObject({ via: 'partition' });
    expect(await a.waitFor(lost(short.id), 30_000)).toMatchObject({ via: 'redis', detail: expect.stringMatching(/^(Missing lock|Lock mismatch|could not renew lock) for job/) });
    expect(a.lines.filter(lost(short.id))).toHaveLength(1);
    expect(a.lines.filter(lost(long.id))).toHaveLength(1);

    // A carries on: new jobs run (on either worker), each once.
    const more = [11, 12, 13, 14];
    for (const id of more) open(id);
    const results = await Promise.all((await Promise.all(more.map(submit))).map((h) => h.result({ timeoutMs: 30_000 })));
    expect(results.map((r) => r.id)).toEqual(more);

    // Nothing of A's attempts reached Redis: the stored results are B's, no failure, no error-level line.
    expect(await short.status()).toMatchObject({ state: 'completed' });
    expect(await long.status()).toMatchObject({ state: 'completed' });
    expect(a.lines.filter((line) => line.event === 'job:fail')).toEqual([]);
    expect(a.lines.filter((line) => Number(line.level) >= ERROR && line !== partitioned)).toEqual([]);
    expect(JSON.stringify(a.lines.filter((line) => Number(line.level) >= ERROR))).not.toContain('Missing lock');
    // Only the two jobs of the cut-off worker started twice.
    const starts = new Map<number, number>();
    for (const run of runs(file).filter((r) => r.what === 'start')) starts.set(run.id, (starts.get(run.id) ?? 0) + 1);
    expect([...starts].filter(([, n]) => n > 1).map(([id]) => id).sort()).toEqual([S, L]);
    expect([...starts.keys()].sort((x, y) => x - y)).toEqual([S, L, ...more]);
    console.log(`partition: noticed ${noticedMs} ms, L stopped ${stoppedMs} ms, S and L done on B ${doneMs} ms after the cut; down ${String(reconnected.downMs)} ms`);
  }, 150_000);
});

describe('an idle worker', () => {
  it("never times out its blocking fetch (BullMQ's 10 s BZPOPMIN outlasts no command timeout) nor takes itself for cut off", async () => {
    const lines: LogLine[] = [];
    const logger = pino({ level: 'debug' }, { write: (text: string) => void lines.push(JSON.parse(text) as LogLine) });
    const idlePrefix = `${prefix}-idle`;
    await using client = createClient({ redisUrl: redisUrl(), prefix: idlePrefix });
    await using worker = await startTestWorker({ redisUrl: redisUrl(), prefix: idlePrefix, tasksModule: TASKS, concurrency: 1, logger, lockDurationMs: 1_000, stalledIntervalMs: 500 });
    // A job due in a minute: BullMQ blocks for its longest, 10 s a fetch, until then.
    const later = await client.submit(gatedWork, { id: 0, file: join(dir, 'idle.log'), gate: join(dir, 'idle-gate') }, { delayMs: 60_000 });
    // Two whole blocking fetches and then some: this test is about time passing, there is no event to wait for.
    await sleep(25_000);
    expect(await later.status()).toMatchObject({ state: 'delayed' });
    expect(worker.healthy).toBe(true);
    const trouble = lines.filter((line) => ['worker:error', 'worker:redis-timeout', 'worker:partitioned', 'worker:heartbeat-failed'].includes(String(line.event)));
    expect(trouble).toEqual([]);
    expect(lines.some((line) => line.event === 'worker:ready')).toBe(true);
  }, 60_000);
});

describe('a worker started while Redis is unreachable', () => {
  it('waits for Redis, longer than the command timeout, and then serves', async () => {
    await using proxy = await startDropProxy(redisUrl());
    proxy.refuse(true);
    const worker = spawnService('taskpool-worker', ['--tasks', TASKS, '--concurrency', '1'], { REDIS_URL: proxy.url, TASKPOOL_PREFIX: `${prefix}-late` });
    services.push(worker);
    // Its startup commands would time out after WORKER_COMMAND_TIMEOUT_MS: it must not send them before Redis is there.
    await sleep(WORKER_COMMAND_TIMEOUT_MS + 3_000);
    expect(worker.child.exitCode).toBeNull();
    proxy.refuse(false);
    await expect(worker.waitFor((line) => line.event === 'worker:ready', 30_000)).resolves.toMatchObject({ healthy: true });
    expect(worker.lines.filter((line) => Number(line.level) >= ERROR)).toEqual([]);
  }, 90_000);
});
