import { availableParallelism } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { createClient, type TaskHandle } from '@taskpool/core';
import { countPrimes, sumSqrt } from '../examples/tasks.ts';
import type { BenchContext, BenchResult } from './benchmark.ts';
import { cpuMsOf, processUsage } from './processUsage.ts';
import { spawnWorker } from './spawnWorker.ts';

const TASKS_PER_SANDBOX = 4;
const IDLE_POLL_MS = 500;
const IDLE_DEADLINE_MS = 15_000;

/**
 * The resident memory (VmRSS) of an idle `taskpool-worker` process and of each of its sandbox processes
 * (one per CPU), once the worker is ready, has run a few tasks of each kind and has used no CPU for 0.5 s.
 * Twice, one worker after the other: with `examples/tasks.ts`, which imports `@taskpool/core/task`, and with
 * the same tasks through a module that imports the `@taskpool/core` barrel (BullMQ, ioredis, pino).
 */
export async function idleMemory(ctx: BenchContext): Promise<BenchResult> {
  const light = await measure(ctx, 'examples/tasks.ts');
  const barrel = await measure(ctx, 'bench/barrelTasks.ts');
  ctx.log(`worker ${light.workerRss.toFixed(1)} MiB; sandboxes ${light.sandboxRss.map((m) => m.toFixed(1)).join(', ')} MiB (barrel import: ${barrel.sandboxRss.map((m) => m.toFixed(1)).join(', ')} MiB)`);
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
    },
    notes:
      `VmRSS from /proc after ${TASKS_PER_SANDBOX * light.sandboxRss.length} tasks (sumSqrt and countPrimes) and ${Math.round(light.idleAfterMs)} ms ` +
      'of waiting for no CPU use; sandboxRssMiB is the mean over the sandboxes. The task module `examples/tasks.ts` imports ' +
      '`@taskpool/core/task`; the `barrel*` figures are the same measure with `bench/barrelTasks.ts`, the same tasks in a module that ' +
      'imports `@taskpool/core` (BullMQ, ioredis, pino), measured after it. RSS counts shared pages (the node binary) in each process.',
  };
}

/** Starts a worker on `tasks`, runs a few tasks, waits until it is idle, and reads the RSS of it and its sandboxes. */
async function measure(ctx: BenchContext, tasks: string): Promise<{ workerRss: number; sandboxRss: number[]; idleAfterMs: number }> {
  const concurrency = availableParallelism();
  const worker = await spawnWorker({ root: ctx.root, redisUrl: ctx.redisUrl, prefix: ctx.prefix, tasks, concurrency });
  const client = createClient({ redisUrl: ctx.redisUrl, prefix: ctx.prefix });
  try {
    const handles: TaskHandle<unknown>[] = await Promise.all(
      Array.from({ length: TASKS_PER_SANDBOX * concurrency }, (_, i) =>
        i % 2 === 0 ? client.submit(sumSqrt, { n: 1_000_000 }) : client.submit(countPrimes, { limit: 100_000 }),
      ),
    );
    await Promise.all(handles.map((h) => h.result({ timeoutMs: 60_000 })));
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

const round1 = (n: number): number => Math.round(n * 10) / 10;
