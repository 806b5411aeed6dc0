import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import calculateSlot from 'cluster-key-slot';
import { afterAll, describe, expect, it } from 'vitest';
import { CancelledError, chain, chord, createAdmin, createClient, group, SandboxCrashError, type StepStatus } from '@taskpool/core';
import { startTestWorker } from '@taskpool/core/testing';
import { fanOut, inc, onFailed, sleepy, square, sum } from './fixtures/workflowTasks.ts';
import { rejectionOf } from './helpers/rejectionOf.ts';
import { eventually, isAlive, spawnWorker, type Service } from './helpers/spawnService.ts';
import { connectRedis, redisUrl, testPrefix } from './helpers/testRedis.ts';

const basePrefix = testPrefix(import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'tp-wf-runtime-'));
const log = join(dir, 'exec.log');
process.env['TP_TEST_EXEC_LOG'] = log;
const services: Service[] = [];

afterAll(async () => {
  await Promise.all(services.map((s) => s.stop('SIGKILL')));
  rmSync(dir, { recursive: true, force: true });
});

const logLines = (): string[] => readFileSync(log, 'utf8').trim().split('\n');
const flatten = (step: StepStatus): StepStatus[] => [step, ...step.children.flatMap(flatten)];
const squares = (count: number): number => Array.from({ length: count }, (_, n) => n * n).reduce((a, b) => a + b, 0);

describe('ctx.spawn', () => {
  it('fans out 500 children from a handler, which does not hold its sandbox while they run', async () => {
    const prefix = `${basePrefix}-spawn`;
    await using client = createClient({ redisUrl: redisUrl(), prefix });
    // One sandbox: if the spawning job held it, its 500 children could never run.
    await using worker = await startTestWorker({ redisUrl: redisUrl(), prefix, tasksModule: 'test/fixtures/workflowTasks.ts', concurrency: 1 });
    const handle = await client.submit(fanOut, { count: 500 });
    expect(await handle.result({ timeoutMs: 60_000 })).toBe(squares(500));
    expect(logLines().filter((line) => line === 'wf.fanOut 500')).toHaveLength(1);
    expect(worker.sandboxesStarted).toBe(1);

    // The same from within a workflow: the spawning step's output feeds the next step.
    const wf = await client.run(chain(fanOut.with({ count: 20 }), inc));
    expect(await wf.result({ timeoutMs: 30_000 })).toBe(squares(20) + 1);
    const tree = await wf.status();
    const spawned = flatten(tree.root).find((s) => s.id.endsWith('.s'));
    expect(spawned?.task).toBe('wf.sum');
    expect(spawned?.children).toHaveLength(20);
  });
});

describe('cancel', () => {
  it('of a workflow with running steps: running ones are stopped, the rest never start', async () => {
    const prefix = `${basePrefix}-cancel`;
    await using client = createClient({ redisUrl: redisUrl(), prefix });
    await using worker = await startTestWorker({ redisUrl: redisUrl(), prefix, tasksModule: 'test/fixtures/workflowTasks.ts', concurrency: 2, killGraceMs: 500 });
    const members = Array.from({ length: 6 }, (_, n) => sleepy.with({ n: 1000 + n, ms: 60_000 }));
    const handle = await client.run(chain(chord(group(members), sum), inc));
    await eventually(async () => flatten((await handle.status()).root).filter((s) => s.state === 'active').length === 2, 'two steps running');
    const pids = worker.sandboxPids;
    const started = Date.now();
    const result = await handle.cancel();
    expect(result).toEqual({ removed: 4, signalled: 2 });
    const error = await rejectionOf(handle.result({ timeoutMs: 20_000 }), CancelledError);
    expect(error.code).toBe('CANCELLED');
    expect(Date.now() - started).toBeLessThan(10_000);
    await eventually(async () => flatten((await handle.status()).root).every((s) => s.state === 'failed' || s.state === 'unknown'), 'every step failed or removed');
    // The tree keeps every member in its place: the two stopped, and the four removed as `unknown`.
    const memberSteps = flatten((await handle.status()).root).filter((s) => s.id.startsWith(`${handle.id}.0.`));
    expect(memberSteps.map((s) => s.id)).toEqual(Array.from({ length: 6 }, (_, n) => `${handle.id}.0.${n}`));
    expect(memberSteps.filter((s) => s.state === 'failed' && s.error?.reason === 'cancelled')).toHaveLength(2);
    expect(memberSteps.filter((s) => s.state === 'unknown' && s.task === '')).toHaveLength(4);
    // The two that ran were stopped (their sandboxes killed and replaced); none of the others started.
    expect(logLines().filter((line) => line.startsWith('wf.sleepy:start 10'))).toHaveLength(2);
    expect(logLines().filter((line) => line.startsWith('wf.sleepy 10'))).toHaveLength(0);
    await eventually(() => pids.every((pid) => !isAlive(pid)), 'the stopped sandboxes gone', 10_000);
  });
});

describe('kill -9 of a worker instance mid-workflow, another alive', () => {
  it('the workflow completes with the right result', async () => {
    const prefix = `${basePrefix}-kill`;
    await using client = createClient({ redisUrl: redisUrl(), prefix });
    const env = { TASKPOOL_LOCK_DURATION_MS: '2000', TASKPOOL_STALLED_INTERVAL_MS: '1000', TP_TEST_EXEC_LOG: log };
    const [a, b] = await Promise.all([0, 1].map(() => spawnWorker({ redisUrl: redisUrl(), prefix, tasks: 'test/fixtures/workflowTasks.ts', concurrency: 2, env })));
    services.push(a!, b!);
    const members = Array.from({ length: 20 }, (_, n) => chain(sleepy.with({ n: 2000 + n, ms: 250 }), inc));
    const handle = await client.run(chain(square.with({ n: 3 }), inc, group([chord(group(members), sum), fanOut.with({ count: 10 })]), sum));
    await a!.waitFor((line) => line.event === 'job:start' && line.task === 'wf.sleepy');
    process.kill(a!.pid, 'SIGKILL');
    await a!.exited;
    const expected = Array.from({ length: 20 }, (_, n) => 2000 + n + 1).reduce((x, y) => x + y, 0) + squares(10);
    expect(await handle.result({ timeoutMs: 90_000 })).toBe(expected);
    expect(b!.lines.some((line) => line.event === 'job:done')).toBe(true);
    const steps = flatten((await handle.status()).root);
    expect(steps.every((s) => s.state === 'completed')).toBe(true);
    // The per-task counts followed the killed worker's jobs back to waiting (BullMQ's stalled check) and on.
    await using admin = createAdmin({ redisUrl: redisUrl(), prefix });
    const unfinished = async (): Promise<number> =>
      (await admin.taskCounts()).flatMap((q) => q.tasks).reduce((n, t) => n + t.counts.waiting + t.counts.active + t.counts.delayed + t.counts.prioritized, 0);
    await eventually(async () => (await unfinished()) === 0, 'no job counted as unfinished');
    expect((await admin.taskCounts()).flatMap((q) => q.tasks).map((t) => t.task)).toContain('wf.sleepy');
  });
});

describe('a step whose workers keep dying (the stall budget)', () => {
  it('fails with reason stalled, and its onFailure callback runs', async () => {
    const prefix = `${basePrefix}-stalled`;
    await using client = createClient({ redisUrl: redisUrl(), prefix });
    const env = { TASKPOOL_LOCK_DURATION_MS: '2000', TASKPOOL_STALLED_INTERVAL_MS: '1000', TASKPOOL_MAX_STALLS: '1', TP_TEST_EXEC_LOG: log };
    const start = () => spawnWorker({ redisUrl: redisUrl(), prefix, tasks: 'test/fixtures/workflowTasks.ts', concurrency: 1, env });
    const handle = await client.run(chain(sleepy.with({ n: 7, ms: 120_000 })).onFailure(onFailed));
    const starts = (): number => (existsSync(log) ? logLines().filter((line) => line === 'wf.sleepy:start 7').length : 0);
    // One stall allowed (TASKPOOL_MAX_STALLS 1, one attempt): kill the worker running the step twice.
    for (let kill = 0; kill < 2; kill++) {
      const victim = await start();
      services.push(victim);
      await victim.waitFor((line) => line.event === 'job:start' && line.task === 'wf.sleepy', 30_000);
      // Killed once the handler runs (it logs its start), not while its input is on its way to the sandbox.
      await eventually(() => starts() === kill + 1, `start ${kill + 1} of the step`);
      process.kill(victim.pid, 'SIGKILL');
      await victim.exited;
    }
    const survivor = await start();
    services.push(survivor);

    const error = await rejectionOf(handle.result({ timeoutMs: 60_000 }), SandboxCrashError);
    expect(error).toMatchObject({ reason: 'stalled', remoteName: 'StalledJobError', remoteCode: 'STALLED', code: 'SANDBOX_CRASHED' });
    // The worker that fetches it fails it before it runs, and adds the callback.
    const callback = client.handle(onFailed, `${handle.id}.err0`);
    await eventually(async () => (await callback.status()) !== undefined, 'the onFailure callback job');
    expect(await callback.result({ timeoutMs: 30_000 })).toEqual({ jobId: handle.id, task: 'wf.sleepy', error: 'StalledJobError' });
    const failure = survivor.lines.find((line) => line.event === 'job:fail');
    expect(failure).toMatchObject({ reason: 'stalled', jobId: handle.id });
    expect((await handle.status()).root.error).toMatchObject({ reason: 'stalled', code: 'STALLED' });
    // Counted as failed for reason stalled, and no longer active or waiting.
    await using admin = createAdmin({ redisUrl: redisUrl(), prefix });
    const sleepyCounts = async () => (await admin.taskCounts()).flatMap((q) => q.tasks).find((t) => t.task === 'wf.sleepy');
    await eventually(async () => (await sleepyCounts())?.counts.failed === 1, 'the stalled step counted as failed');
    expect(await sleepyCounts()).toMatchObject({ counts: { waiting: 0, active: 0, delayed: 0, failed: 1 }, failures: [{ reason: 'stalled', count: 1 }] });
    // The step started twice and never finished.
    expect(starts()).toBe(2);
    expect(logLines()).not.toContain('wf.sleepy 7');
  });
});

describe('Redis Cluster', () => {
  it('every key of a workflow lives in one slot when the prefix is a hash tag', async () => {
    const prefix = `{${basePrefix}-slot}`;
    await using client = createClient({ redisUrl: redisUrl(), prefix });
    await using worker = await startTestWorker({ redisUrl: redisUrl(), prefix, tasksModule: 'test/fixtures/workflowTasks.ts', concurrency: 2 });
    const handle = await client.run(chain(square.with({ n: 2 }), group([inc, fanOut.with({ count: 3 })]), sum).onSuccess(inc));
    expect(await handle.result({ timeoutMs: 30_000 })).toBe(5 + squares(3));
    await client.handle(inc, `${handle.id}.ok0`).result({ timeoutMs: 30_000 });
    await handle.cancel();
    await using redis = await connectRedis(redisUrl());
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    expect(keys.length).toBeGreaterThan(20);
    expect(new Set(keys.map((key) => calculateSlot(key))).size).toBe(1);
    expect(worker.queues).toContain('default');
  });
});
