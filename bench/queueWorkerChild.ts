/**
 * One worker process of a benchmark, so every side runs as it would in production (a process of its own, the
 * client in the benchmark's process). `argv[2]` picks the side:
 * - `taskpool-process`, `taskpool-thread`, `taskpool-inline`: `startWorker` serving `bench/benchTasks.ts`'s queue of that isolation;
 * - `bullmq-inline`: a BullMQ `Worker` with a processor function (no isolation);
 * - `bullmq-sandboxed`: a BullMQ `Worker` with a processor file (BullMQ's own child processes);
 * - `taskpool-chord`: `startWorker` serving `bench/chordTasks.ts` (inline); `bullmq-flow`: a processor function
 *   that returns `{ i }` for a flow's member and sums `getChildrenValues()` for its parent.
 * Every side runs `CONCURRENCY` jobs at a time; `FETCH` (`supervisor` or `sandbox`) sets taskpool's `fetch` option. Prints
 * `ready` once serving; exits on SIGTERM.
 */
import { fileURLToPath } from 'node:url';
import { Worker, type Job } from 'bullmq';
import { createLogger } from '@taskpool/core';
import { startWorker } from '@taskpool/core/worker';

const [side, queue] = process.argv.slice(2);
const { REDIS_URL, PREFIX, CONCURRENCY, FETCH } = process.env;
const concurrency = Number(CONCURRENCY);
const connection = { url: REDIS_URL! };

/** Sums a flow parent's children, as a plain BullMQ flow would; a member gives back its number. */
async function flowProcessor(job: Job<{ i: number }>): Promise<unknown> {
  if (job.name === 'member') return { i: job.data.i };
  const values = (await job.getChildrenValues<{ i: number }>()) ?? {};
  return Object.values(values).reduce((sum, { i }) => sum + i, 0);
}

let close: () => Promise<unknown>;
if (side === 'taskpool-process' || side === 'taskpool-thread' || side === 'taskpool-inline' || side === 'taskpool-chord') {
  const worker = await startWorker({
    redisUrl: REDIS_URL!,
    prefix: PREFIX!,
    tasksModule: fileURLToPath(new URL(side === 'taskpool-chord' ? './chordTasks.ts' : './benchTasks.ts', import.meta.url)),
    queues: [queue!],
    concurrency,
    inlineConcurrency: concurrency,
    ...((FETCH === 'supervisor' || FETCH === 'sandbox') && { fetch: FETCH }),
    logger: createLogger({ level: 'warn' }),
  });
  close = () => worker.close();
} else if (side === 'bullmq-inline' || side === 'bullmq-sandboxed' || side === 'bullmq-flow') {
  const processor =
    side === 'bullmq-flow' ? flowProcessor : side === 'bullmq-inline' ? async (job: { data: { i: number } }) => ({ i: job.data.i }) : fileURLToPath(new URL('./bullNoopProcessor.ts', import.meta.url));
  const worker = new Worker(queue!, processor, { connection, prefix: PREFIX!, concurrency });
  worker.on('error', (error) => console.error(error));
  await worker.waitUntilReady();
  close = () => worker.close();
} else {
  throw new Error(`Unknown side ${side}`);
}
process.once('SIGTERM', () => void close().finally(() => process.exit(0)));
console.log('ready');
