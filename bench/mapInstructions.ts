import { createClient, type AnyTask } from '@taskpool/core';
import { availableParallelism } from 'node:os';
import type { BenchContext, BenchResult } from './benchmark.ts';
import { noop, noopInline } from './benchTasks.ts';
import { bullmqDelivered } from './bullmqDelivered.ts';
import { counterFromEnv, createInstructionCounter, type CounterKind } from './instructionCount.ts';
import { startQueueWorker, type WorkerSide } from './startQueueWorker.ts';

/** Jobs run before the counted ones, in both runs (JIT warm-up, connections). `BENCH_PERF_WARM_UP` overrides. */
const WARM_UP = Number(process.env.BENCH_PERF_WARM_UP ?? 300);
/** Jobs counted: the difference between the two runs. `BENCH_PERF_ITEMS` overrides. */
const ITEMS = Number(process.env.BENCH_PERF_ITEMS ?? 1_000);
/** A counted run that takes longer than this fails (under callgrind everything is ~50× slower). `BENCH_PERF_TIMEOUT_S` overrides. */
const RUN_TIMEOUT_MS = Number(process.env.BENCH_PERF_TIMEOUT_S ?? 900) * 1_000;

const SIDES: Record<string, { queue: string; feed: (ctx: BenchContext, n: number) => Promise<unknown> }> = {
  'taskpool-process': { queue: 'bench-process', feed: (ctx, n) => mapOf(ctx, noop, n) },
  'taskpool-inline': { queue: 'bench-inline', feed: (ctx, n) => mapOf(ctx, noopInline, n) },
  'bullmq-sandboxed': { queue: 'raw-sandboxed', feed: (ctx, n) => bullmqDelivered({ url: ctx.redisUrl }, ctx.prefix, 'raw-sandboxed', n) },
  'bullmq-inline': { queue: 'raw-inline', feed: (ctx, n) => bullmqDelivered({ url: ctx.redisUrl }, ctx.prefix, 'raw-inline', n) },
};

async function mapOf(ctx: BenchContext, task: AnyTask, n: number): Promise<void> {
  const client = createClient({ redisUrl: ctx.redisUrl, prefix: ctx.prefix });
  try {
    const results = (await client.map(task, Array.from({ length: n }, (_, i) => ({ i })), { chunkSize: 1 }).toArray()) as { i: number }[];
    if (results.some((r, i) => r.i !== i)) throw new Error(`map of ${task.name} returned wrong results`);
  } finally {
    await client.close();
  }
}

/**
 * With `BENCH_PERF` set (see `instructionCount.ts`; without it, this benchmark only says it is off): the
 * instructions per job of the worker side of the no-op map at chunkSize 1 (as in `mapThroughput`), the worker
 * process and all its children (sandboxes, BullMQ's child processes) counted together, concurrency = cores. Each side runs twice under the counter, a worker of its own each time: `WARM_UP` jobs, then
 * `WARM_UP` + `ITEMS` jobs; the difference over `ITEMS` is the count per job, start-up and shutdown cancelled
 * out. Sides: `BENCH_PERF_SIDES` (default `taskpool-process,bullmq-sandboxed`; also `taskpool-inline`, `bullmq-inline`).
 */
export async function mapInstructions(ctx: BenchContext): Promise<BenchResult> {
  const concurrency = availableParallelism();
  const counter = counterFromEnv();
  if ('off' in counter) return { name: 'mapInstructions', figures: { instructionsPerJob: `off: ${counter.off}` } };
  const sides = (process.env.BENCH_PERF_SIDES ?? 'taskpool-process,bullmq-sandboxed').split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = sides.filter((side) => !(side in SIDES));
  if (unknown.length > 0) throw new Error(`BENCH_PERF_SIDES: unknown side(s) ${unknown.join(', ')}; known: ${Object.keys(SIDES).join(', ')}`);
  const figures: Record<string, number | string> = { instructionCounter: counter.kind };
  for (const side of sides) {
    try {
      const short = await countRun(ctx, counter.kind, side, concurrency, [WARM_UP]);
      const long = await countRun(ctx, counter.kind, side, concurrency, [WARM_UP, ITEMS]);
      const perJob = Math.round((long.instructions - short.instructions) / ITEMS);
      figures[`${camel(side)}InstructionsPerJob`] = perJob;
      ctx.log(`${side}: ${perJob} instructions per job (${counter.kind}; ${short.processes}/${long.processes} processes counted)`);
    } catch (error) {
      figures[`${camel(side)}InstructionsPerJob`] = `failed: ${(error as Error).message.slice(0, 200)}`;
      ctx.log(`${side}: counting failed: ${(error as Error).stack ?? String(error)}`);
    }
  }
  return {
    name: 'mapInstructions',
    figures,
    notes:
      `Instructions per job (${counter.kind}): the worker process and its children, two runs per side (${WARM_UP} jobs; ${WARM_UP} + ${ITEMS}), ` +
      `the difference over ${ITEMS}; taskpool fed by \`map\` at chunkSize 1, BullMQ as in its delivered rows.`,
  };
}

async function countRun(ctx: BenchContext, kind: CounterKind, side: string, concurrency: number, batches: number[]): Promise<{ instructions: number; processes: number }> {
  const counter = await createInstructionCounter(kind);
  try {
    const { queue, feed } = SIDES[side]!;
    const worker = await startQueueWorker(ctx, side as WorkerSide, queue, concurrency, counter.wrapper);
    let timer: NodeJS.Timeout | undefined;
    try {
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${side}: the counted run took over ${RUN_TIMEOUT_MS / 1000} s`)), RUN_TIMEOUT_MS);
      });
      await Promise.race([(async () => {
        for (const n of batches) await feed(ctx, n);
      })(), timedOut]);
    } finally {
      clearTimeout(timer);
      await worker.stop();
    }
    return await counter.read();
  } finally {
    await counter.dispose();
  }
}

const camel = (side: string): string => side.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
