import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createClient, createLogger, type TaskHandle } from '@taskpool/core';
import { startTestWorker } from '@taskpool/core/testing';
import { slowRecord } from './fixtures/tasks.ts';
import { eventually } from './helpers/spawnService.ts';
import { redisUrl, testPrefix } from './helpers/testRedis.ts';

// Each test has a prefix of its own: a worker of one test never takes another's jobs.
const base = testPrefix(import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'tp-prefetch-'));
const closers: (() => Promise<unknown>)[] = [];
const logger = createLogger({ level: 'silent' });

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  rmSync(dir, { recursive: true, force: true });
});

async function setUp(name: string, options: { prefetch?: number; shutdownGraceMs?: number } = {}) {
  const prefix = `${base}-${name}`;
  const client = createClient({ redisUrl: redisUrl(), prefix });
  closers.push(() => client.close());
  const worker = await startTestWorker({ redisUrl: redisUrl(), prefix, tasksModule: 'test/fixtures/tasks.ts', concurrency: 1, logger, ...options });
  closers.push(() => worker.close());
  const file = join(dir, `${name}.log`);
  const submit = (id: number, ms: number) => client.submit(slowRecord, { id, ms, file });
  return { client, worker, prefix, file, submit };
}

const stateOf = async (handle: TaskHandle<unknown>): Promise<string | undefined> => (await handle.status())?.state;

/** The states of `second` seen while `first` runs: each read of `second` counts only if `first` still runs after it. */
async function statesWhileRunning(first: TaskHandle<unknown>, second: TaskHandle<unknown>): Promise<Set<string | undefined>> {
  const seen = new Set<string | undefined>();
  for (;;) {
    const state = await stateOf(second);
    if ((await stateOf(first)) !== 'active') return seen;
    seen.add(state);
  }
}

/** Short tasks first: prefetching starts once the tasks' mean run time is known to be short. */
async function warmUp(submit: (id: number, ms: number) => Promise<TaskHandle<{ id: number }>>): Promise<void> {
  for (let i = 0; i < 3; i++) await (await submit(100 + i, 0)).result({ timeoutMs: 20_000 });
}

/** A 1 s task runs; a job submitted meanwhile is seen waiting at every look until the first is done. */
async function expectNoPrefetch(submit: (id: number, ms: number) => Promise<TaskHandle<{ id: number }>>): Promise<void> {
  const first = await submit(1, 1_000);
  await eventually(async () => (await stateOf(first)) === 'active', 'the first job running');
  const second = await submit(2, 0);
  expect([...(await statesWhileRunning(first, second))]).toEqual(['waiting']);
  await second.result({ timeoutMs: 20_000 });
}

describe('prefetch', () => {
  it('holds the next job while a task runs, with one sandbox (default prefetch 1), once tasks are known short', async () => {
    const { submit } = await setUp('on');
    await warmUp(submit);
    const first = await submit(1, 1_500);
    await eventually(async () => (await stateOf(first)) === 'active', 'the first job running');
    const second = await submit(2, 0);
    // Fetched while the first still runs: BullMQ marks it active; it waits for the sandbox.
    await eventually(async () => (await stateOf(second)) === 'active', 'the second job fetched while the first runs', 1_200, 20);
    expect(await stateOf(first)).toBe('active');
    const [a, b] = await Promise.all([first.result({ timeoutMs: 20_000 }), second.result({ timeoutMs: 20_000 })]);
    expect([a.id, b.id]).toEqual([1, 2]);
    expect(a.pid).toBe(b.pid);
  });

  it('fetches no job beyond the sandboxes with prefetch 0', async () => {
    const { submit } = await setUp('off', { prefetch: 0 });
    await warmUp(submit);
    await expectNoPrefetch(submit);
  });

  it('stops prefetching once the tasks run long (mean over prefetchMaxTaskMs)', async () => {
    const { submit } = await setUp('long');
    await warmUp(submit);
    // One long task moves the mean run time (weight 0.2) well over the default 100 ms.
    await (await submit(0, 1_000)).result({ timeoutMs: 20_000 });
    await expectNoPrefetch(submit);
  });

  it('fetches no job beyond the sandboxes before a task was measured', async () => {
    const { submit } = await setUp('cold');
    await expectNoPrefetch(submit);
  });

  it('runs a prefetched job before a graceful shutdown ends', async () => {
    const { worker, submit, file } = await setUp('drain', { shutdownGraceMs: 10_000 });
    await warmUp(submit);
    const first = await submit(1, 800);
    const second = await submit(2, 0);
    await eventually(async () => (await stateOf(second)) === 'active' && (await stateOf(first)) === 'active', 'the second job prefetched while the first runs');
    await worker.close();
    expect(await stateOf(first)).toBe('completed');
    expect(await stateOf(second)).toBe('completed');
    expect(readFileSync(file, 'utf8').trim().split('\n').slice(-2)).toEqual(['1', '2']);
  });

  it('gives a prefetched job back to waiting, its attempt not spent, when the grace period ends', async () => {
    const { worker, submit, file, prefix } = await setUp('grace', { shutdownGraceMs: 300 });
    await warmUp(submit);
    const first = await submit(1, 3_000);
    const second = await submit(2, 0);
    await eventually(async () => (await stateOf(second)) === 'active' && (await stateOf(first)) === 'active', 'the second job prefetched while the first runs');
    await worker.close();
    // Neither ran to its end here: both wait for another worker, with no attempt spent.
    for (const handle of [first, second]) {
      const view = await handle.status();
      expect(view?.state).toBe('waiting');
      expect(view?.attempts).toBe(0);
    }
    const next = await startTestWorker({ redisUrl: redisUrl(), prefix, tasksModule: 'test/fixtures/tasks.ts', concurrency: 1, logger });
    closers.push(() => next.close());
    const results = await Promise.all([first.result({ timeoutMs: 20_000 }), second.result({ timeoutMs: 20_000 })]);
    expect(results.map((r) => r.id)).toEqual([1, 2]);
    // The first was killed at the end of the grace (it had not written), then ran again: one line each.
    expect(readFileSync(file, 'utf8').trim().split('\n').slice(3).sort()).toEqual(['1', '2']);
  });
});
