import { availableParallelism } from 'node:os';
import { Redis } from 'ioredis';
import { createClient, type AnyTask } from '@taskpool/core';
import type { BenchContext, BenchResult } from './benchmark.ts';
import { noop, noopInline } from './benchTasks.ts';
import { bullmqDelivered } from './bullmqDelivered.ts';
import { processUsage } from './processUsage.ts';
import { startQueueWorker, type WorkerSide } from './startQueueWorker.ts';

const ITEMS = Number(process.env.BENCH_REDIS_ITEMS ?? 20_000);
const WARM_UP = 1_000;

/** What Redis did per job: its process's CPU, the time it spent executing scripts (EVALSHA/EVAL), and calls. */
interface PerJob {
  cpuUs: number;
  scriptUs: number;
  scriptCalls: number;
  commandCalls: number;
}

/**
 * What Redis itself spends per no-op job at chunkSize 1, results delivered, for taskpool (sandbox and inline) and
 * raw BullMQ (sandboxed processor and processor function), one side after another on the run's redis-server:
 * its process's CPU per job, and from `INFO commandstats` (reset before each side) the time spent executing Lua
 * scripts per job (BullMQ's add, fetch and finish scripts, and taskpool's count scripts) and the calls per job.
 * It shows how much of Redis's work is the scripts' own, which batching calls would not remove.
 */
export async function redisPerJob(ctx: BenchContext): Promise<BenchResult> {
  const concurrency = availableParallelism();
  const admin = new Redis(ctx.redisUrl);
  const inputs = (n: number): { i: number }[] => Array.from({ length: n }, (_, i) => ({ i }));
  const viaMap = (task: AnyTask) => async (n: number): Promise<void> => {
    const client = createClient({ redisUrl: ctx.redisUrl, prefix: ctx.prefix });
    try {
      const results = (await client.map(task, inputs(n), { chunkSize: 1 }).toArray()) as { i: number }[];
      if (results.length !== n || results.some((r, i) => r.i !== i)) throw new Error(`map of ${task.name} returned wrong results`);
    } finally {
      await client.close();
    }
  };
  const viaBullmq = (queue: string) => async (n: number): Promise<void> => void (await bullmqDelivered({ url: ctx.redisUrl }, ctx.prefix, queue, n));
  const sides: { label: string; side: WorkerSide; queue: string; run: (n: number) => Promise<void> }[] = [
    { label: 'taskpoolSandbox', side: 'taskpool-process', queue: 'bench-process', run: viaMap(noop) },
    { label: 'bullmqSandboxed', side: 'bullmq-sandboxed', queue: 'raw-sandboxed', run: viaBullmq('raw-sandboxed') },
    { label: 'taskpoolInline', side: 'taskpool-inline', queue: 'bench-inline', run: viaMap(noopInline) },
    { label: 'bullmqInline', side: 'bullmq-inline', queue: 'raw-inline', run: viaBullmq('raw-inline') },
  ];
  const figures: Record<string, number> = { items: ITEMS };
  try {
    for (const { label, side, queue, run } of sides) {
      const worker = await startQueueWorker(ctx, side, queue, concurrency);
      try {
        await run(WARM_UP);
        await admin.config('RESETSTAT');
        const cpuBefore = processUsage(ctx.redisPid).cpuMs;
        await run(ITEMS);
        const perJob = readPerJob(await admin.info('commandstats'), processUsage(ctx.redisPid).cpuMs - cpuBefore);
        for (const [name, value] of Object.entries(perJob)) figures[`${label}.${name}`] = value;
        ctx.log(`${label}: Redis CPU ${perJob.cpuUs} µs per job, of which scripts ${perJob.scriptUs} µs (${perJob.scriptCalls} script calls, ${perJob.commandCalls} calls in all per job)`);
      } finally {
        await worker.stop();
      }
    }
  } finally {
    admin.disconnect();
  }
  return {
    name: 'redisPerJob',
    figures,
    notes:
      `No-op tasks at chunkSize 1, ${ITEMS} per side after ${WARM_UP} not counted, every result read by the caller (taskpool's \`map\`; BullMQ: ` +
      '`addBulk` and a QueueEvents reader, as in `mapThroughput`). cpuUs: redis-server\'s CPU per job (10 ms ticks); scriptUs: the time ' +
      '`INFO commandstats` gives EVALSHA and EVAL per job (each script with the commands it runs); scriptCalls and commandCalls: calls per job ' +
      '(commandCalls counts the commands scripts run, and excludes CONFIG and INFO).',
  };
}

function readPerJob(info: string, cpuMs: number): PerJob {
  let scriptUs = 0;
  let scriptCalls = 0;
  let commandCalls = 0;
  for (const line of info.split('\n')) {
    const match = /^cmdstat_(\w+):calls=(\d+),usec=(\d+)/.exec(line);
    if (!match) continue;
    const [, command, calls, usec] = match;
    if (command === 'config' || command === 'info') continue;
    commandCalls += Number(calls);
    if (command === 'evalsha' || command === 'eval') {
      scriptUs += Number(usec);
      scriptCalls += Number(calls);
    }
  }
  const round = (value: number): number => Math.round(value * 100) / 100;
  return { cpuUs: Math.round((cpuMs * 1000) / ITEMS), scriptUs: Math.round(scriptUs / ITEMS), scriptCalls: round(scriptCalls / ITEMS), commandCalls: round(commandCalls / ITEMS) };
}
