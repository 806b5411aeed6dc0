import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { Queue, QueueEvents } from 'bullmq';
import { createClient } from '@taskpool/core';
import type { BenchContext, BenchResult } from './benchmark.ts';
import { noop } from './benchTasks.ts';
import { childPids, cpuMsOf, processUsage } from './processUsage.ts';
import { startQueueWorker, type QueueWorker } from './startQueueWorker.ts';

const ITEMS = Number(process.env.BENCH_FETCH_ITEMS ?? 5_000);
const ROUNDS = Number(process.env.BENCH_FETCH_ROUNDS ?? 2);
const WARM_UP = 300;
const SAMPLES = 200;
const IDLE_MS = 500;

type MapSide = 'supervisor' | 'sandbox' | 'bullmqSandboxed';
type LatencySide = MapSide | 'bullmq';

/** CPU µs per item of each process of a side, and items/s. */
interface MapRun {
  perS: number;
  clientUs: number;
  supervisorUs: number;
  sandboxesUs: number;
  redisUs: number;
}

/**
 * taskpool's two `fetch` modes side by side (issue #14): a no-op `map` at chunkSize 1 through one worker process
 * alone on the machine (concurrency = cores), CPU per item of each process (the client, here; the worker's
 * supervising process; its sandboxes; redis-server) and items/s, against BullMQ's sandboxed processor fed by
 * `addBulk` with every completion read from `QueueEvents`; then the submit → result latency of one no-op task
 * at a time, the sides taking turns, beside a BullMQ processor function; then the idle RSS of each sandbox.
 */
export async function fetchModes(ctx: BenchContext): Promise<BenchResult> {
  const concurrency = availableParallelism();
  const sides: MapSide[] = ['supervisor', 'sandbox', 'bullmqSandboxed'];
  const maps: Record<MapSide, MapRun[]> = { supervisor: [], sandbox: [], bullmqSandboxed: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
      const worker = await startSide(ctx, side, concurrency);
      try {
        await mapOnce(ctx, side, worker, WARM_UP);
        const run = await mapOnce(ctx, side, worker, ITEMS);
        maps[side].push(run);
        ctx.log(`${side} map: ${run.perS} items/s; CPU µs per item: client ${run.clientUs}, supervisor ${run.supervisorUs}, sandboxes ${run.sandboxesUs}, redis ${run.redisUs}`);
      } finally {
        await worker.stop();
      }
    }
  }
  const lat = await latencies(ctx, concurrency);
  const median = (side: MapSide, key: keyof MapRun): number => {
    const values = maps[side].map((r) => r[key]).sort((a, b) => a - b);
    return values[Math.floor(values.length / 2)]!;
  };
  const figures: Record<string, number> = { items: ITEMS, rounds: ROUNDS, concurrency };
  for (const side of sides) for (const key of ['perS', 'clientUs', 'supervisorUs', 'sandboxesUs', 'redisUs'] as const) figures[`${side}.${key}`] = median(side, key);
  for (const [side, value] of Object.entries(lat.p50)) figures[`${side}.p50Ms`] = value;
  for (const [side, value] of Object.entries(lat.p99)) figures[`${side}.p99Ms`] = value;
  for (const [side, value] of Object.entries(lat.rss)) figures[`${side}.idleSandboxRssMiB`] = value;
  figures.sandboxVsBullmqSandboxed = round2(figures['sandbox.perS']! / figures['bullmqSandboxed.perS']!);
  figures.supervisorVsBullmqSandboxed = round2(figures['supervisor.perS']! / figures['bullmqSandboxed.perS']!);
  figures.sandboxP50VsBullmq = round2(lat.p50.sandbox! / lat.p50.bullmq!);
  figures.supervisorP50VsBullmq = round2(lat.p50.supervisor! / lat.p50.bullmq!);
  figures.sandboxRssVsBullmqChild = round2(lat.rss.sandbox! / lat.rss.bullmqSandboxed!);
  return {
    name: 'fetchModes',
    figures,
    notes:
      `No-op map of ${ITEMS} items at chunkSize 1 (after ${WARM_UP} not timed), one worker process alone per side, concurrency ${concurrency}, ` +
      `${ROUNDS} rounds in alternating order, medians. CPU µs per item from /proc: client (this process), supervisor (the worker process), ` +
      'sandboxes (its child processes, summed), redis-server. BullMQ sandboxed: addBulk of 1000 and every completion read from QueueEvents. ' +
      `Latency: ${SAMPLES} sequential no-op tasks per side, the sides taking turns. Idle RSS: mean VmRSS of each side's sandboxes after ${IDLE_MS} ms without CPU use.`,
  };
}

function startSide(ctx: BenchContext, side: MapSide | 'bullmq', concurrency: number): Promise<QueueWorker> {
  if (side === 'bullmqSandboxed') return startQueueWorker(ctx, 'bullmq-sandboxed', 'raw-sandboxed', concurrency);
  if (side === 'bullmq') return startQueueWorker(ctx, 'bullmq-inline', 'raw-inline', concurrency);
  return startQueueWorker(ctx, 'taskpool-process', 'bench-process', concurrency, undefined, side);
}

function sandboxPidsOf(side: LatencySide, worker: QueueWorker): number[] {
  return side === 'bullmqSandboxed' ? childPids(worker.pid, 'bullmq') : childPids(worker.pid, 'sandboxMain');
}

async function mapOnce(ctx: BenchContext, side: MapSide, worker: QueueWorker, n: number): Promise<MapRun> {
  const inputs = Array.from({ length: n }, (_, i) => ({ i }));
  const sandboxes = sandboxPidsOf(side, worker);
  const cpu = (): number[] => [processUsage('self').cpuMs, processUsage(worker.pid).cpuMs, cpuMsOf(sandboxes), processUsage(ctx.redisPid).cpuMs];
  const before = cpu();
  const started = performance.now();
  if (side === 'bullmqSandboxed') {
    const connection = { url: ctx.redisUrl };
    const queue = new Queue('raw-sandboxed', { connection, prefix: ctx.prefix });
    const events = new QueueEvents('raw-sandboxed', { connection, prefix: ctx.prefix });
    try {
      await events.waitUntilReady();
      let done = 0;
      const all = new Promise<void>((resolve) =>
        events.on('completed', () => {
          if (++done === n) resolve();
        }),
      );
      for (let at = 0; at < n; at += 1_000) await queue.addBulk(inputs.slice(at, at + 1_000).map((data) => ({ name: 'noop', data })));
      await all;
    } finally {
      await Promise.all([queue.close(), events.close()]);
    }
  } else {
    const client = createClient({ redisUrl: ctx.redisUrl, prefix: ctx.prefix });
    try {
      const results = (await client.map(noop, inputs, { chunkSize: 1 }).toArray()) as { i: number }[];
      if (results.length !== n || results.some((r, i) => r.i !== i)) throw new Error(`${side}: the map returned wrong results`);
    } finally {
      await client.close();
    }
  }
  const ms = performance.now() - started;
  const after = cpu();
  const us = (i: number): number => Math.round(((after[i]! - before[i]!) * 1000) / n);
  return { perS: Math.round(n / (ms / 1000)), clientUs: us(0), supervisorUs: us(1), sandboxesUs: us(2), redisUs: us(3) };
}

async function latencies(ctx: BenchContext, concurrency: number): Promise<{ p50: Record<string, number>; p99: Record<string, number>; rss: Record<string, number> }> {
  const order: LatencySide[] = ['supervisor', 'sandbox', 'bullmq', 'bullmqSandboxed'];
  const workers = new Map<LatencySide, QueueWorker>();
  const client = createClient({ redisUrl: ctx.redisUrl, prefix: ctx.prefix });
  const connection = { url: ctx.redisUrl };
  const raw = new Map(['raw-inline', 'raw-sandboxed'].map((name) => [name, { queue: new Queue(name, { connection, prefix: ctx.prefix }), events: new QueueEvents(name, { connection, prefix: ctx.prefix }) }]));
  // The two taskpool sides share one queue: each worker serves it alone in turn (the other is stopped), so start them one at a time.
  try {
    for (const side of ['bullmq', 'bullmqSandboxed'] as const) workers.set(side, await startSide(ctx, side, concurrency));
    await Promise.all([...raw.values()].map(({ events }) => events.waitUntilReady()));
    const viaBullmq = (name: string) => async (i: number): Promise<number> => {
      const { queue, events } = raw.get(name)!;
      const jobId = randomUUID();
      const completed = new Promise((resolve) => (events as unknown as NodeJS.EventEmitter).once(`completed:${jobId}`, resolve));
      const started = performance.now();
      await queue.add('noop', { i }, { jobId });
      await completed;
      return performance.now() - started;
    };
    const viaTaskpool = async (i: number): Promise<number> => {
      const started = performance.now();
      await (await client.submit(noop, { i })).result({ timeoutMs: 30_000 });
      return performance.now() - started;
    };
    const samples: Record<LatencySide, number[]> = { supervisor: [], sandbox: [], bullmq: [], bullmqSandboxed: [] };
    const rss: Record<string, number> = {};
    // taskpool's sides in turn (they serve the same queue), each interleaved with both BullMQ sides.
    for (const mode of ['supervisor', 'sandbox'] as const) {
      const worker = await startSide(ctx, mode, concurrency);
      workers.set(mode, worker);
      const run: Record<string, (i: number) => Promise<number>> = { [mode]: viaTaskpool, bullmq: viaBullmq('raw-inline'), bullmqSandboxed: viaBullmq('raw-sandboxed') };
      const sides = Object.keys(run) as LatencySide[];
      for (let i = 0; i < 50; i++) for (const side of sides) await run[side]!(i);
      for (let i = 0; i < SAMPLES; i++) for (const side of i % 2 === 0 ? sides : [...sides].reverse()) samples[side].push(await run[side]!(i));
      rss[mode] = await idleRss(worker, mode);
      await worker.stop();
      workers.delete(mode);
    }
    rss.bullmqSandboxed = await idleRss(workers.get('bullmqSandboxed')!, 'bullmqSandboxed');
    const q = (side: LatencySide, at: number): number => round2(quantile(samples[side], at));
    const p50 = Object.fromEntries(order.map((side) => [side, q(side, 0.5)]));
    const p99 = Object.fromEntries(order.map((side) => [side, q(side, 0.99)]));
    ctx.log(`latency p50 ms: ${JSON.stringify(p50)}; p99: ${JSON.stringify(p99)}; idle sandbox RSS MiB: ${JSON.stringify(rss)}`);
    return { p50, p99, rss };
  } finally {
    await client.close();
    await Promise.all([...raw.values()].flatMap(({ queue, events }) => [queue.close(), events.close()]));
    await Promise.all([...workers.values()].map((w) => w.stop()));
  }
}

/** Mean VmRSS of a side's sandboxes once none of its processes used CPU for {@link IDLE_MS}. */
async function idleRss(worker: QueueWorker, side: LatencySide): Promise<number> {
  const pids = [worker.pid, ...sandboxPidsOf(side, worker)];
  let last = cpuMsOf(pids);
  for (let i = 0; i < 30; i++) {
    await delay(IDLE_MS);
    const now = cpuMsOf(pids);
    if (now === last) break;
    last = now;
  }
  const rss = sandboxPidsOf(side, worker).map((pid) => processUsage(pid).rssMiB);
  return Math.round((rss.reduce((a, b) => a + b, 0) / rss.length) * 10) / 10;
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

const round2 = (n: number): number => Math.round(n * 100) / 100;
