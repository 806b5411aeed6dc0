import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { createClient, type AnyTask } from '@taskpool/core';
import { encodeValue, taskJobData } from '@taskpool/core/internal';
import type { BenchContext, BenchResult } from './benchmark.ts';
import { noop, noopInline, noopThread } from './benchTasks.ts';
import { startQueueWorker, type WorkerSide } from './startQueueWorker.ts';

/** 50,000 rather than 100,000 keeps `npm run bench` within ~6 minutes on 2 cores; `BENCH_MAP_ITEMS` overrides. */
const ITEMS = Number(process.env.BENCH_MAP_ITEMS ?? 50_000);
const WARM_UP = 1_000;
const ADD_BATCH = 1_000;
const POLL_MS = 20;

/**
 * `client.map` of no-op items through one worker process (concurrency = cores), items/s: a task in a sandbox
 * process at chunkSize 1 and 1000, in a worker thread and inline at chunkSize 1; beside raw BullMQ measured in
 * the same run with the same concurrency: a processor function (inline), and BullMQ's sandboxed processor (a
 * processor file, run in its child processes).
 * The raw sides add every job up front (`addBulk` of 1000) and count completions by polling the queue's
 * counts; taskpool's map keeps its default window of jobs in flight and reads every result back, parsed.
 */
export async function mapThroughput(ctx: BenchContext): Promise<BenchResult> {
  const concurrency = availableParallelism();
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
  /** Raw adds: BullMQ's sides take the input as the job's data; taskpool's worker takes it in its job envelope. */
  const runRaw = (queueName: string, jobName = 'noop', envelope = false) => async (n: number): Promise<number> => {
    const queue = new Queue(queueName, { connection: { url: ctx.redisUrl }, prefix: ctx.prefix });
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

  type Run = { side: WorkerSide; queue: string; label: string; run: (n: number) => Promise<number> };
  const runs: Run[] = [
    { side: 'taskpool-process', queue: 'bench-process', label: 'taskpoolChunk1', run: runMap(noop, 1) },
    { side: 'taskpool-process', queue: 'bench-process', label: 'taskpoolChunk1000', run: runMap(noop, 1_000) },
    // taskpool's worker fed as the raw sides are (addBulk, no client): what the worker alone does.
    { side: 'taskpool-process', queue: 'bench-process', label: 'taskpoolProcessWorkerOnly', run: runRaw('bench-process', noop.name, true) },
    { side: 'taskpool-thread', queue: 'bench-thread', label: 'taskpoolThreadChunk1', run: runMap(noopThread, 1) },
    { side: 'taskpool-inline', queue: 'bench-inline', label: 'taskpoolInlineChunk1', run: runMap(noopInline, 1) },
    { side: 'taskpool-inline', queue: 'bench-inline', label: 'taskpoolInlineWorkerOnly', run: runRaw('bench-inline', noopInline.name, true) },
    { side: 'bullmq-inline', queue: 'raw-inline', label: 'bullmqInline', run: runRaw('raw-inline') },
    { side: 'bullmq-sandboxed', queue: 'raw-sandboxed', label: 'bullmqSandboxed', run: runRaw('raw-sandboxed') },
  ];
  const perSecond: Record<string, number> = {};
  for (const { side, queue, label, run } of runs) {
    // One worker at a time: the machine has `concurrency` cores for this side alone.
    const worker = await startQueueWorker(ctx, side, queue, concurrency);
    try {
      await run(WARM_UP);
      const ms = await run(ITEMS);
      perSecond[label] = Math.round(ITEMS / (ms / 1000));
      ctx.log(`${label}: ${ITEMS} items in ${Math.round(ms)} ms, ${perSecond[label]} items/s`);
    } finally {
      await worker.stop();
    }
  }
  const ratio = (a: string, b: string): number => Math.round((perSecond[a]! / perSecond[b]!) * 100) / 100;
  return {
    name: 'mapThroughput',
    figures: {
      items: ITEMS,
      concurrency,
      taskpoolChunk1PerS: perSecond.taskpoolChunk1!,
      taskpoolChunk1000PerS: perSecond.taskpoolChunk1000!,
      taskpoolProcessWorkerOnlyPerS: perSecond.taskpoolProcessWorkerOnly!,
      taskpoolThreadChunk1PerS: perSecond.taskpoolThreadChunk1!,
      taskpoolInlineChunk1PerS: perSecond.taskpoolInlineChunk1!,
      taskpoolInlineWorkerOnlyPerS: perSecond.taskpoolInlineWorkerOnly!,
      bullmqInlinePerS: perSecond.bullmqInline!,
      bullmqSandboxedPerS: perSecond.bullmqSandboxed!,
      inlineVsBullmqInline: ratio('taskpoolInlineChunk1', 'bullmqInline'),
      threadVsBullmqInline: ratio('taskpoolThreadChunk1', 'bullmqInline'),
      processVsBullmqInline: ratio('taskpoolChunk1', 'bullmqInline'),
      processVsBullmqSandboxed: ratio('taskpoolChunk1', 'bullmqSandboxed'),
      threadVsBullmqSandboxed: ratio('taskpoolThreadChunk1', 'bullmqSandboxed'),
      chunk1000VsBullmqSandboxed: ratio('taskpoolChunk1000', 'bullmqSandboxed'),
      workerOnlyVsBullmqInline: ratio('taskpoolInlineWorkerOnly', 'bullmqInline'),
      processWorkerOnlyVsBullmqSandboxed: ratio('taskpoolProcessWorkerOnly', 'bullmqSandboxed'),
    },
    notes:
      `${ITEMS} no-op items per side after ${WARM_UP} not timed; one worker process per side, alone on the machine, concurrency ${concurrency}. ` +
      'taskpool: `await client.map(task, inputs, { chunkSize }).toArray()` (default window; every input and output parsed by zod in the client ' +
      'and the worker; a new client per side). BullMQ: `addBulk` of 1000 until all are added, completion counted by polling `getJobCounts`. ' +
      'Targets at chunkSize 1: `inlineVsBullmqInline` ≥ 0.9 (taskpool inline isolation vs a BullMQ processor function), ' +
      '`processVsBullmqSandboxed` ≥ 2 (a task in a sandbox process, taskpool vs BullMQ\'s sandboxed processor). The `*WorkerOnly` sides feed ' +
      'taskpool\'s worker as the raw sides are fed (addBulk, no client): the part of the gap that is the worker\'s. `taskpoolThreadChunk1` runs ' +
      'the task in a worker thread of the worker (`isolation: \'thread\'`).',
  };
}
