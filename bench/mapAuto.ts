import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Queue } from 'bullmq';
import { createClient } from '@taskpool/core';
import type { BenchContext, BenchResult } from './benchmark.ts';
import { noop } from './benchTasks.ts';
import { cpuMsOf } from './processUsage.ts';
import { spawnWorker } from './spawnWorker.ts';

/** The count; `BENCH_MAP_AUTO_ITEMS` overrides. */
const ITEMS = Number(process.env.BENCH_MAP_AUTO_ITEMS ?? 1_000_000);
/** `'auto'` (the default) or a fixed size, for comparing: `BENCH_MAP_AUTO_CHUNK=1000`. */
const CHUNK: number | 'auto' = process.env.BENCH_MAP_AUTO_CHUNK && process.env.BENCH_MAP_AUTO_CHUNK !== 'auto' ? Number(process.env.BENCH_MAP_AUTO_CHUNK) : 'auto';
const WARM_UP = 20_000;

/**
 * `client.map` of 1,000,000 tiny items (a no-op task, `{ i }` in and out, parsed by zod in the client and in
 * the sandbox) with `chunkSize: 'auto'`, through a `taskpool-worker` process with one sandbox per core: items/s,
 * the CPU each process spends per item (client, the worker's supervising process, its sandboxes, Redis), and
 * the client's heap. The inputs are generated lazily and the results counted, not kept, as a map of that size
 * would be used.
 */
export async function mapAuto(ctx: BenchContext): Promise<BenchResult> {
  const concurrency = availableParallelism();
  const worker = await spawnWorker({ root: ctx.root, redisUrl: ctx.redisUrl, prefix: ctx.prefix, tasks: 'bench/benchTasks.ts', concurrency });
  const client = createClient({ redisUrl: ctx.redisUrl, prefix: ctx.prefix });
  const pids = { supervisor: [worker.pid], sandboxes: worker.sandboxPids(), redis: [ctx.redisPid] };
  const cpu = (): Record<'client' | 'supervisor' | 'sandboxes' | 'redis', number> => {
    const own = process.cpuUsage();
    return {
      client: (own.user + own.system) / 1000,
      supervisor: cpuMsOf(pids.supervisor),
      sandboxes: cpuMsOf(pids.sandboxes),
      redis: cpuMsOf(pids.redis),
    };
  };
  function* inputs(n: number): Generator<{ i: number }> {
    for (let i = 0; i < n; i++) yield { i };
  }
  const run = async (n: number): Promise<{ ms: number; heapPeak: number }> => {
    let heapPeak = 0;
    let count = 0;
    const started = performance.now();
    for await (const result of client.map(noop, inputs(n), { chunkSize: CHUNK })) {
      if (result.i !== count) throw new Error(`map returned ${result.i} at ${count}`);
      if (++count % 50_000 === 0) heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
    }
    if (count !== n) throw new Error(`map returned ${count} of ${n} results`);
    return { ms: performance.now() - started, heapPeak };
  };
  const queue = new Queue(noop.defaults.queue!, { connection: { url: ctx.redisUrl }, prefix: ctx.prefix });
  const completedJobs = async (): Promise<number> => (await queue.getJobCounts('completed')).completed ?? 0;
  try {
    await run(WARM_UP);
    const heapBefore = process.memoryUsage().heapUsed;
    const jobsBefore = await completedJobs();
    const before = cpu();
    const { ms, heapPeak } = await run(ITEMS);
    const after = cpu();
    const jobs = (await completedJobs()) - jobsBefore;
    const perItemUs = (key: keyof typeof before): number => Math.round(((after[key] - before[key]) * 1000 * 100) / ITEMS) / 100;
    const perSecond = Math.round(ITEMS / (ms / 1000));
    ctx.log(`map of ${ITEMS} no-op items, chunkSize ${CHUNK}: ${Math.round(ms)} ms, ${perSecond} items/s`);
    return {
      name: 'mapAuto',
      figures: {
        items: ITEMS,
        chunkSize: String(CHUNK),
        concurrency,
        itemsPerS: perSecond,
        jobs,
        clientCpuUsPerItem: perItemUs('client'),
        supervisorCpuUsPerItem: perItemUs('supervisor'),
        sandboxesCpuUsPerItem: perItemUs('sandboxes'),
        redisCpuUsPerItem: perItemUs('redis'),
        clientHeapBeforeMiB: Math.round((heapBefore / 2 ** 20) * 10) / 10,
        clientHeapPeakMiB: Math.round((heapPeak / 2 ** 20) * 10) / 10,
      },
      notes:
        `${ITEMS} no-op items (\`{ i }\` in and out, zod in the client and the sandbox), inputs generated lazily, results counted; ` +
        `after ${WARM_UP} not timed; a taskpool-worker with ${concurrency} sandboxes; CPU per item of each process over the timed map ` +
        '(client: this process; /proc ticks of 10 ms for the others). The heap peak is sampled every 50,000 results (not after a GC).',
    };
  } finally {
    await queue.close();
    await client.close();
    await worker.stop();
  }
}
