/**
 * The worker process of one side of the chord benchmark (`argv[2]`):
 * - `taskpool`: `startWorker` serving `chordTasks.ts` (inline isolation);
 * - `bullmq`: a BullMQ `Worker` whose processor returns `{ i }` for a member and sums `getChildrenValues()`
 *   for the parent, as a plain BullMQ flow would.
 * Both run `CONCURRENCY` jobs at a time. Prints `ready` once serving; exits on SIGTERM.
 */
import { fileURLToPath } from 'node:url';
import { Worker, type Job } from 'bullmq';
import { createLogger } from '@taskpool/core';
import { startWorker } from '@taskpool/core/worker';

const [side, queue] = process.argv.slice(2);
const { REDIS_URL, PREFIX, CONCURRENCY } = process.env;
const concurrency = Number(CONCURRENCY);

let close: () => Promise<unknown>;
if (side === 'taskpool') {
  const worker = await startWorker({
    redisUrl: REDIS_URL!,
    prefix: PREFIX!,
    tasksModule: fileURLToPath(new URL('./chordTasks.ts', import.meta.url)),
    concurrency,
    inlineConcurrency: concurrency,
    logger: createLogger({ level: 'warn' }),
  });
  close = () => worker.close();
} else if (side === 'bullmq') {
  const processor = async (job: Job<{ i: number }>): Promise<unknown> => {
    if (job.name === 'member') return { i: job.data.i };
    const values = (await job.getChildrenValues<{ i: number }>()) ?? {};
    return Object.values(values).reduce((sum, { i }) => sum + i, 0);
  };
  const worker = new Worker(queue!, processor, { connection: { url: REDIS_URL! }, prefix: PREFIX!, concurrency });
  worker.on('error', (error) => console.error(error));
  await worker.waitUntilReady();
  close = () => worker.close();
} else {
  throw new Error(`Unknown side ${side}`);
}
process.once('SIGTERM', () => void close().finally(() => process.exit(0)));
console.log('ready');
