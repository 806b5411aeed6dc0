import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { createClient, type AnyTask } from '@taskpool/core';
import { encodeValue, taskJobData } from '@taskpool/core/internal';
import type { BenchContext, BenchResult } from './benchmark.ts';
import { bigMap } from './bigMap.ts';
import { bullmqDelivered } from './bullmqDelivered.ts';
import { noop, noopInline, noopThread } from './benchTasks.ts';
import { childPids, cpuMsBetween, liveCpuMs } from './processUsage.ts';
import { startQueueWorker, type WorkerSide } from './startQueueWorker.ts';
import { round1, round2 } from './stats.ts';

/** 50,000 rather than 100,000 keeps `npm run bench` within ~6 minutes on 2 cores; `BENCH_MAP_ITEMS` overrides. */
const ITEMS = Number(process.env.BENCH_MAP_ITEMS ?? 50_000);
/** The big map: 20 × ITEMS (1,000,000 by default). */
const BIG_ITEMS = 20 * ITEMS;
/** The big map stops reading after this long (a design at one job per item would take minutes). */
const BIG_BUDGET_MS = Number(process.env.BENCH_MAP_BIG_BUDGET_S ?? 60) * 1_000;
const WARM_UP = 1_000;
const ADD_BATCH = 1_000;
const POLL_MS = 20;

/**
 * `client.map` of no-op items through one worker process (concurrency = cores), items/s, beside raw BullMQ
 * measured in the same run with the same concurrency (a processor function, and BullMQ's sandboxed processor
 * run in its child processes):
 * - taskpool: a task in a sandbox process at chunkSize 1 and 1000, in a worker thread and inline at chunkSize 1,
 *   every result read back and parsed; and a map of `BIG_ITEMS` with the default chunkSize (client heap before/after);
 * - BullMQ, every result delivered (`bullmqDelivered.ts`: the same window as `map`, results read through `QueueEvents`);
 * - worker-only rows (taskpool's worker and BullMQ's): `addBulk` of every job, completions counted by polling the
 *   queue's counts, no result read: what the worker alone does.
 * Each row also reports the CPU per item of the client (this process), the worker process with its children, and
 * redis-server. A row that fails is reported as such and the others still run.
 */
export async function mapThroughput(ctx: BenchContext): Promise<BenchResult> {
  const concurrency = availableParallelism();
  const connection = { url: ctx.redisUrl };
  const inputs = (n: number): { i: number }[] => Array.from({ length: n }, (_, i) => ({ i }));
  // A client of its own per side, closed after it: a client keeps reading the event stream of every queue it
  // has used, which would take CPU from the sides measured after it.
  const runMap = (task: AnyTask, chunkSize: number) => async (n: number): Promise<number> => {
    const client = createClient({ redisUrl: ctx.redisUrl, prefix: ctx.prefix });
    try {
      const started = performance.now();
      const results = (await client.map(task, inputs(n), { chunkSize }).toArray()) as { i: number }[];
      const ms = performance.now() - started;
      if (results.length !== n || results.some((r, i) => r.i !== i)) throw new Error(`map of ${task.name} returned wrong results`);
      return ms;
    } finally {
      await client.close();
    }
  };
  /** Worker-only: BullMQ's sides take the input as the job's data; taskpool's worker takes it in its job envelope. */
  const runRaw = (queueName: string, jobName = 'noop', envelope = false) => async (n: number): Promise<number> => {
    const queue = new Queue(queueName, { connection, prefix: ctx.prefix });
    try {
      const before = await queue.getJobCounts('completed', 'failed');
      const target = before.completed! + before.failed! + n;
      const started = performance.now();
      for (let at = 0; at < n; at += ADD_BATCH) {
        await queue.addBulk(inputs(Math.min(ADD_BATCH, n - at)).map((input) => ({ name: jobName, data: envelope ? taskJobData(encodeValue(input)) : input })));
      }
      for (;;) {
        const counts = await queue.getJobCounts('completed', 'failed');
        if (counts.failed! > before.failed!) throw new Error(`raw ${queueName}: ${counts.failed! - before.failed!} jobs failed`);
        if (counts.completed! + counts.failed! >= target) return performance.now() - started;
        await delay(POLL_MS);
      }
    } finally {
      await queue.close();
    }
  };
  const runDelivered = (queueName: string) => (n: number): Promise<number> => bullmqDelivered(connection, ctx.prefix, queueName, n);

  type Run = { side: WorkerSide; queue: string; label: string; run: (n: number) => Promise<number> };
  const runs: Run[] = [
    { side: 'taskpool-process', queue: 'bench-process', label: 'taskpoolChunk1', run: runMap(noop, 1) },
    { side: 'taskpool-process', queue: 'bench-process', label: 'taskpoolChunk1000', run: runMap(noop, 1_000) },
    // taskpool's worker fed as the raw worker-only sides are (addBulk, no client): what the worker alone does.
    // It writes taskpool's job envelope itself (`@taskpool/core/internal`), so a design that changes it fails this row only.
    { side: 'taskpool-process', queue: 'bench-process', label: 'taskpoolProcessWorkerOnly', run: runRaw('bench-process', noop.name, true) },
    { side: 'taskpool-thread', queue: 'bench-thread', label: 'taskpoolThreadChunk1', run: runMap(noopThread, 1) },
    { side: 'taskpool-inline', queue: 'bench-inline', label: 'taskpoolInlineChunk1', run: runMap(noopInline, 1) },
    { side: 'taskpool-inline', queue: 'bench-inline', label: 'taskpoolInlineWorkerOnly', run: runRaw('bench-inline', noopInline.name, true) },
    { side: 'bullmq-inline', queue: 'raw-inline', label: 'bullmqInline', run: runDelivered('raw-inline') },
    { side: 'bullmq-sandboxed', queue: 'raw-sandboxed', label: 'bullmqSandboxed', run: runDelivered('raw-sandboxed') },
    { side: 'bullmq-inline', queue: 'raw-inline', label: 'bullmqInlineWorkerOnly', run: runRaw('raw-inline') },
    { side: 'bullmq-sandboxed', queue: 'raw-sandboxed', label: 'bullmqSandboxedWorkerOnly', run: runRaw('raw-sandboxed') },
  ];
  const perSecond: Record<string, number> = {};
  const figures: Record<string, number | string> = { items: ITEMS, concurrency };
  const failed: string[] = [];
  for (const { side, queue, label, run } of runs) {
    // One worker at a time: the machine has `concurrency` cores for this side alone.
    const worker = await startQueueWorker(ctx, side, queue, concurrency);
    try {
      await run(WARM_UP);
      const pids = [worker.pid, ...childPids(worker.pid, '')];
      const before = { client: process.cpuUsage(), worker: liveCpuMs(pids), redis: liveCpuMs([ctx.redisPid]) };
      const ms = await run(ITEMS);
      const client = process.cpuUsage(before.client);
      const workerMs = cpuMsBetween(before.worker, liveCpuMs(pids));
      const redisMs = cpuMsBetween(before.redis, liveCpuMs([ctx.redisPid]));
      perSecond[label] = Math.round(ITEMS / (ms / 1000));
      figures[`${label}PerS`] = perSecond[label]!;
      const us = (cpuMs: number): number => Math.round((cpuMs * 1000) / ITEMS);
      figures[`${label}CpuUsPerItem`] = `client ${us((client.user + client.system) / 1000)} / worker ${us(workerMs)} / redis ${us(redisMs)}`;
      ctx.log(`${label}: ${ITEMS} items in ${Math.round(ms)} ms, ${perSecond[label]} items/s; CPU µs per item: ${String(figures[`${label}CpuUsPerItem`])}`);
    } catch (error) {
      figures[`${label}PerS`] = `failed: ${(error as Error).message.slice(0, 200)}`;
      failed.push(label);
      ctx.log(`${label} failed: ${(error as Error).stack ?? String(error)}`);
    } finally {
      await worker.stop();
    }
  }

  // The big map, default chunkSize, through a sandbox worker.
  const big = await startQueueWorker(ctx, 'taskpool-process', 'bench-process', concurrency);
  try {
    const pids = [big.pid, ...childPids(big.pid, '')];
    const before = { worker: liveCpuMs(pids), redis: liveCpuMs([ctx.redisPid]) };
    const result = await bigMap(ctx.redisUrl, ctx.prefix, BIG_ITEMS, BIG_BUDGET_MS, WARM_UP);
    const workerUs = Math.round((cpuMsBetween(before.worker, liveCpuMs(pids)) * 1000) / result.items);
    const redisUs = Math.round((cpuMsBetween(before.redis, liveCpuMs([ctx.redisPid])) * 1000) / result.items);
    Object.assign(figures, {
      bigMapItems: BIG_ITEMS,
      bigMapItemsRead: result.items,
      bigMapStoppedAtBudget: result.stopped ? `yes, after ${BIG_BUDGET_MS / 1000} s` : 'no',
      bigMapPerS: Math.round(result.items / (result.ms / 1000)),
      bigMapHeapBeforeMiB: round1(result.heapBeforeMiB),
      bigMapHeapAfterMiB: round1(result.heapAfterMiB),
      bigMapHeapPeakMiB: round1(result.heapPeakMiB),
      bigMapCpuUsPerItem: `client ${Math.round(result.clientCpuUsPerItem)} / worker ${workerUs} / redis ${redisUs}`,
    });
    ctx.log(`bigMap: ${result.items} of ${BIG_ITEMS} items in ${Math.round(result.ms)} ms, ${String(figures.bigMapPerS)} items/s; heap ${String(figures.bigMapHeapBeforeMiB)} → ${String(figures.bigMapHeapAfterMiB)} MiB (peak ${String(figures.bigMapHeapPeakMiB)})`);
  } catch (error) {
    figures.bigMapPerS = `failed: ${(error as Error).message.slice(0, 200)}`;
    failed.push('bigMap');
    ctx.log(`bigMap failed: ${(error as Error).stack ?? String(error)}`);
  } finally {
    await big.stop();
  }

  const ratio = (a: string, b: string): number | string =>
    perSecond[a] !== undefined && perSecond[b] !== undefined ? round2(perSecond[a] / perSecond[b]) : 'n/a';
  Object.assign(figures, {
    // Issue #14's targets: every result delivered on both sides.
    processVsBullmqSandboxed: ratio('taskpoolChunk1', 'bullmqSandboxed'),
    inlineVsBullmqInline: ratio('taskpoolInlineChunk1', 'bullmqInline'),
    threadVsBullmqSandboxed: ratio('taskpoolThreadChunk1', 'bullmqSandboxed'),
    processVsBullmqInline: ratio('taskpoolChunk1', 'bullmqInline'),
    chunk1000VsBullmqSandboxed: ratio('taskpoolChunk1000', 'bullmqSandboxed'),
    // Worker alone on both sides (no result read by anyone), as before issue #14.
    processWorkerOnlyVsBullmqSandboxedWorkerOnly: ratio('taskpoolProcessWorkerOnly', 'bullmqSandboxedWorkerOnly'),
    inlineWorkerOnlyVsBullmqInlineWorkerOnly: ratio('taskpoolInlineWorkerOnly', 'bullmqInlineWorkerOnly'),
    // taskpool's map against BullMQ's worker alone: the ratios this benchmark reported before issue #14.
    processVsBullmqSandboxedWorkerOnly: ratio('taskpoolChunk1', 'bullmqSandboxedWorkerOnly'),
    inlineVsBullmqInlineWorkerOnly: ratio('taskpoolInlineChunk1', 'bullmqInlineWorkerOnly'),
  });

  return {
    name: 'mapThroughput',
    figures,
    notes:
      `${ITEMS} no-op items per row after ${WARM_UP} not timed; one worker process per row, alone on the machine, concurrency ${concurrency}. ` +
      'taskpool: `await client.map(task, inputs, { chunkSize }).toArray()` (default window; every input and output parsed by zod in the client ' +
      'and the worker; a new client per row). BullMQ (`bullmqInline`, `bullmqSandboxed`): the same window of 1024 jobs in flight, refilled by ' +
      '`addBulk`, every result read through `QueueEvents` and checked: both sides do the same work. `*WorkerOnly` rows: `addBulk` of 1000 until ' +
      'all are added, completions counted by polling `getJobCounts`, no result read (taskpool\'s worker fed with its job envelope directly). ' +
      'Targets (issue #14, chunkSize 1, results delivered on both sides): `processVsBullmqSandboxed` ≥ 2, `inlineVsBullmqInline` ≥ 1; ' +
      `\`bigMapPerS\` ≥ 500,000 with the client heap flat (a map of ${BIG_ITEMS} items with the default chunkSize through a sandbox worker, ` +
      `inputs from a generator, results dropped; it stops reading after ${BIG_BUDGET_MS / 1000} s, \`BENCH_MAP_BIG_BUDGET_S\`). ` +
      '`*CpuUsPerItem`: CPU µs per item of the client (this process), the worker process and its children, and redis-server (10 ms ticks). ' +
      `${failed.length > 0 ? `Rows that failed: ${failed.join(', ')}.` : ''}`,
  };
}
