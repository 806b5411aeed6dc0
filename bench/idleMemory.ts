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
 */
export async function idleMemory(ctx: BenchContext): Promise<BenchResult> {
  const concurrency = availableParallelism();
  const worker = await spawnWorker({ root: ctx.root, redisUrl: ctx.redisUrl, prefix: ctx.prefix, tasks: 'examples/tasks.ts', concurrency });
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
    const workerRss = processUsage(worker.pid).rssMiB;
    const sandboxRss = sandboxPids.map((pid) => processUsage(pid).rssMiB);
    ctx.log(`worker ${worker.pid}: ${workerRss.toFixed(1)} MiB; sandboxes ${sandboxRss.map((m) => m.toFixed(1)).join(', ')} MiB`);
    const mean = sandboxRss.reduce((a, b) => a + b, 0) / sandboxRss.length;
    return {
      name: 'idleMemory',
      figures: {
        sandboxes: sandboxRss.length,
        workerRssMiB: round1(workerRss),
        sandboxRssMiB: round1(mean),
        sandboxRssMiBMax: round1(Math.max(...sandboxRss)),
        totalRssMiB: round1(workerRss + sandboxRss.reduce((a, b) => a + b, 0)),
      },
      notes:
        `VmRSS from /proc after ${TASKS_PER_SANDBOX * concurrency} tasks (sumSqrt and countPrimes) and ${Math.round(idleAfterMs)} ms ` +
        'of waiting for no CPU use; sandboxRssMiB is the mean over the sandboxes. RSS counts shared pages (the node binary) in each process.',
    };
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
