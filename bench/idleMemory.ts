import { availableParallelism } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { createClient, type TaskHandle, type TaskpoolClient } from '@taskpool/core';
import { countPrimes, sumSqrt } from '../examples/tasks.ts';
import type { BenchContext, BenchResult } from './benchmark.ts';
import { noop } from './benchTasks.ts';
import { bullmqDelivered } from './bullmqDelivered.ts';
import { childPids, cpuMsOf, processUsage } from './processUsage.ts';
import { spawnWorker } from './spawnWorker.ts';
import { startQueueWorker } from './startQueueWorker.ts';
import { round1, round2 } from './stats.ts';

const TASKS_PER_SANDBOX = 4;
const IDLE_POLL_MS = 500;
const IDLE_DEADLINE_MS = 15_000;

/**
 * The resident memory (VmRSS) of an idle `taskpool-worker` process and of each of its sandbox processes
 * (one per CPU), once the worker is ready, has run a few tasks of each kind and has used no CPU for 0.5 s.
 * Three times, one worker after the other: with `examples/tasks.ts`, which imports `@taskpool/core/task`; with
 * the same tasks through a module that imports the `@taskpool/core` barrel (BullMQ, ioredis, pino); and with the
 * no-op task of `bench/benchTasks.ts`, beside BullMQ's sandboxed processor running the same no-op (`bench/bullNoopProcessor.ts`)
 * in its child processes: issue #14's like-with-like.
 */
export async function idleMemory(ctx: BenchContext): Promise<BenchResult> {
  const mixed = (client: TaskpoolClient): Promise<unknown> => runMixed(client, TASKS_PER_SANDBOX * availableParallelism());
  const light = await measure(ctx, 'examples/tasks.ts', undefined, mixed);
  const barrel = await measure(ctx, 'bench/barrelTasks.ts', undefined, mixed);
  const noopTasks = await measure(ctx, 'bench/benchTasks.ts', ['bench-process'], async (client) => {
    const n = TASKS_PER_SANDBOX * availableParallelism();
    await client.map(noop, Array.from({ length: n }, (_, i) => ({ i }))).toArray();
  });
  const bullmq = await measureBullmq(ctx);
  ctx.log(`worker ${light.workerRss.toFixed(1)} MiB; sandboxes ${light.sandboxRss.map((m) => m.toFixed(1)).join(', ')} MiB (barrel import: ${barrel.sandboxRss.map((m) => m.toFixed(1)).join(', ')} MiB)`);
  ctx.log(`no-op: sandboxes ${noopTasks.sandboxRss.map((m) => m.toFixed(1)).join(', ')} MiB; BullMQ's sandboxed children ${bullmq.childRss.map((m) => m.toFixed(1)).join(', ')} MiB`);
  const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
  return {
    name: 'idleMemory',
    figures: {
      sandboxes: light.sandboxRss.length,
      workerRssMiB: round1(light.workerRss),
      sandboxRssMiB: round1(mean(light.sandboxRss)),
      sandboxRssMiBMax: round1(Math.max(...light.sandboxRss)),
      totalRssMiB: round1(light.workerRss + light.sandboxRss.reduce((a, b) => a + b, 0)),
      barrelSandboxRssMiB: round1(mean(barrel.sandboxRss)),
      barrelTotalRssMiB: round1(barrel.workerRss + barrel.sandboxRss.reduce((a, b) => a + b, 0)),
      noopSandboxRssMiB: round1(mean(noopTasks.sandboxRss)),
      noopWorkerRssMiB: round1(noopTasks.workerRss),
      bullmqChildren: bullmq.childRss.length,
      bullmqChildRssMiB: round1(mean(bullmq.childRss)),
      bullmqWorkerRssMiB: round1(bullmq.workerRss),
      noopSandboxVsBullmqChild: round2(mean(noopTasks.sandboxRss) / mean(bullmq.childRss)),
    },
    notes:
      `VmRSS from /proc after ${TASKS_PER_SANDBOX * light.sandboxRss.length} tasks (sumSqrt and countPrimes) and ${Math.round(light.idleAfterMs)} ms ` +
      'of waiting for no CPU use; sandboxRssMiB is the mean over the sandboxes. The task module `examples/tasks.ts` imports ' +
      '`@taskpool/core/task`; the `barrel*` figures are the same measure with `bench/barrelTasks.ts`, the same tasks in a module that ' +
      'imports `@taskpool/core` (BullMQ, ioredis, pino), measured after it. `noop*`: a worker serving `bench/benchTasks.ts`\'s no-op task ' +
      '(queue bench-process) after as many no-op tasks; `bullmq*`: a BullMQ Worker with the sandboxed processor `bench/bullNoopProcessor.ts` ' +
      '(the same no-op, started by `bench/queueWorkerChild.ts` under tsx, whose loader its children inherit, as ours load the .ts task ' +
      'module with tsx) after as many jobs, its child processes once idle. Target (issue #14): `noopSandboxVsBullmqChild` ≤ 1.2. ' +
      'RSS counts shared pages (the node binary) in each process.',
  };
}

async function runMixed(client: TaskpoolClient, n: number): Promise<void> {
  const handles: TaskHandle<unknown>[] = await Promise.all(
    Array.from({ length: n }, (_, i) => (i % 2 === 0 ? client.submit(sumSqrt, { n: 1_000_000 }) : client.submit(countPrimes, { limit: 100_000 }))),
  );
  await Promise.all(handles.map((h) => h.result({ timeoutMs: 60_000 })));
}

/** A BullMQ Worker with a sandboxed processor, after a few no-op jobs: the RSS of it and its idle children. */
async function measureBullmq(ctx: BenchContext): Promise<{ workerRss: number; childRss: number[] }> {
  const concurrency = availableParallelism();
  const worker = await startQueueWorker(ctx, 'bullmq-sandboxed', 'raw-sandboxed-idle', concurrency);
  try {
    await bullmqDelivered({ url: ctx.redisUrl }, ctx.prefix, 'raw-sandboxed-idle', TASKS_PER_SANDBOX * concurrency);
    const children = childPids(worker.pid, '');
    if (children.length === 0) throw new Error('BullMQ\'s sandboxed worker has no child process after its jobs');
    await waitUntilIdle([worker.pid, ...children]);
    return { workerRss: processUsage(worker.pid).rssMiB, childRss: children.map((pid) => processUsage(pid).rssMiB) };
  } finally {
    await worker.stop();
  }
}

/** Starts a worker on `tasks`, runs `exercise`, waits until it is idle, and reads the RSS of it and its sandboxes. */
async function measure(
  ctx: BenchContext,
  tasks: string,
  queues: string[] | undefined,
  exercise: (client: TaskpoolClient) => Promise<unknown>,
): Promise<{ workerRss: number; sandboxRss: number[]; idleAfterMs: number }> {
  const concurrency = availableParallelism();
  const worker = await spawnWorker({ root: ctx.root, redisUrl: ctx.redisUrl, prefix: ctx.prefix, tasks, concurrency, queues });
  const client = createClient({ redisUrl: ctx.redisUrl, prefix: ctx.prefix });
  try {
    await exercise(client);
    const sandboxPids = worker.sandboxPids();
    const idleAfterMs = await waitUntilIdle([worker.pid, ...sandboxPids]);
    return { workerRss: processUsage(worker.pid).rssMiB, sandboxRss: sandboxPids.map((pid) => processUsage(pid).rssMiB), idleAfterMs };
  } finally {
    await client.close();
    await worker.stop();
  }
}

/** Polls until the processes' CPU time stops moving over one interval (or the deadline); resolves with the time waited. */
async function waitUntilIdle(pids: number[]): Promise<number> {
  const started = Date.now();
  let last = cpuMsOf(pids);
  while (Date.now() - started < IDLE_DEADLINE_MS) {
    await delay(IDLE_POLL_MS);
    const now = cpuMsOf(pids);
    if (now === last) return Date.now() - started;
    last = now;
  }
  throw new Error(`The worker kept using CPU for ${IDLE_DEADLINE_MS} ms after its tasks were done`);
}

