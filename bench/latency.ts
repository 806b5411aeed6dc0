import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Queue, QueueEvents } from 'bullmq';
import { createClient, type AnyTask } from '@taskpool/core';
import type { BenchContext, BenchResult } from './benchmark.ts';
import { noop, noopInline } from './benchTasks.ts';
import { startQueueWorker, type QueueWorker } from './startQueueWorker.ts';
import { quantile, round2 } from './stats.ts';

const SAMPLES = 400;
const WARM_UP = 50;

type Side = 'taskpool' | 'taskpoolInline' | 'bullmq' | 'bullmqSandboxed';

/**
 * Submit → result latency of one no-op task at a time on an idle local stack (client, Redis and one worker
 * process per side, `CONCURRENCY` = cores), beside raw BullMQ's add → `completed` event (QueueEvents) with a
 * processor function, measured in the same run: p50 and p99 over 400 sequential tasks per side.
 * taskpool's default runs the task in a sandbox process (one more IPC hop than BullMQ's processor function);
 * its `inline` isolation runs it on the worker's event loop, as BullMQ's processor function does.
 */
export async function latency(ctx: BenchContext): Promise<BenchResult> {
  const concurrency = availableParallelism();
  const workers: QueueWorker[] = [];
  const client = createClient({ redisUrl: ctx.redisUrl, prefix: ctx.prefix });
  const connection = { url: ctx.redisUrl };
  const raw = ['raw-inline', 'raw-sandboxed'].map((name) => ({ queue: new Queue(name, { connection, prefix: ctx.prefix }), events: new QueueEvents(name, { connection, prefix: ctx.prefix }) }));
  try {
    workers.push(
      ...(await Promise.all([
        startQueueWorker(ctx, 'taskpool-process', 'bench-process', concurrency),
        startQueueWorker(ctx, 'taskpool-inline', 'bench-inline', concurrency),
        startQueueWorker(ctx, 'bullmq-inline', 'raw-inline', concurrency),
        startQueueWorker(ctx, 'bullmq-sandboxed', 'raw-sandboxed', concurrency),
      ])),
    );
    await Promise.all(raw.map(({ events }) => events.waitUntilReady()));

    const viaTaskpool = (task: AnyTask) => async (i: number): Promise<number> => {
      const started = performance.now();
      const handle = await client.submit(task, { i });
      const output = (await handle.result({ timeoutMs: 30_000 })) as { i: number };
      const ms = performance.now() - started;
      if (output.i !== i) throw new Error(`${task.name} returned ${JSON.stringify(output)} for ${i}`);
      return ms;
    };
    const viaBullmq = ({ queue, events }: (typeof raw)[number]) => async (i: number): Promise<number> => {
      const jobId = randomUUID();
      // QueueEvents also emits `completed:<jobId>`, which its typings do not list; its `returnvalue` is the
      // job's result, already parsed: the result reaches the caller, as taskpool's `handle.result()` does.
      const completed = new Promise<{ returnvalue: { i: number } }>((resolve) => (events as unknown as NodeJS.EventEmitter).once(`completed:${jobId}`, resolve));
      const started = performance.now();
      await queue.add('noop', { i }, { jobId });
      const { returnvalue } = await completed;
      const ms = performance.now() - started;
      if (returnvalue?.i !== i) throw new Error(`BullMQ returned ${JSON.stringify(returnvalue)} for ${i}`);
      return ms;
    };
    const sides: Record<Side, (i: number) => Promise<number>> = {
      taskpool: viaTaskpool(noop),
      taskpoolInline: viaTaskpool(noopInline),
      bullmq: viaBullmq(raw[0]!),
      bullmqSandboxed: viaBullmq(raw[1]!),
    };
    const samples: Record<Side, number[]> = { taskpool: [], taskpoolInline: [], bullmq: [], bullmqSandboxed: [] };
    const order = Object.keys(sides) as Side[];
    for (let i = 0; i < WARM_UP; i++) for (const side of order) await sides[side](i);
    // One task of each side in turn, so a drift of the machine's speed (other processes) favours none.
    for (let i = 0; i < SAMPLES; i++) {
      for (const side of i % 2 === 0 ? order : [...order].reverse()) samples[side].push(await sides[side](i));
    }
    const p = (side: Side, q: number): number => round2(quantile(samples[side], q));
    for (const side of order) ctx.log(`${side}: p50 ${p(side, 0.5)} ms, p99 ${p(side, 0.99)} ms`);
    return {
      name: 'latency',
      figures: {
        tasks: SAMPLES,
        taskpoolP50Ms: p('taskpool', 0.5),
        taskpoolP99Ms: p('taskpool', 0.99),
        taskpoolInlineP50Ms: p('taskpoolInline', 0.5),
        taskpoolInlineP99Ms: p('taskpoolInline', 0.99),
        bullmqP50Ms: p('bullmq', 0.5),
        bullmqP99Ms: p('bullmq', 0.99),
        bullmqSandboxedP50Ms: p('bullmqSandboxed', 0.5),
        bullmqSandboxedP99Ms: p('bullmqSandboxed', 0.99),
        p50VsBullmq: round2(p('taskpool', 0.5) / p('bullmq', 0.5)),
        p99VsBullmq: round2(p('taskpool', 0.99) / p('bullmq', 0.99)),
        inlineP50VsBullmq: round2(p('taskpoolInline', 0.5) / p('bullmq', 0.5)),
        inlineP99VsBullmq: round2(p('taskpoolInline', 0.99) / p('bullmq', 0.99)),
        sandboxP50VsBullmqSandboxed: round2(p('taskpool', 0.5) / p('bullmqSandboxed', 0.5)),
        sandboxP99VsBullmqSandboxed: round2(p('taskpool', 0.99) / p('bullmqSandboxed', 0.99)),
      },
      notes:
        `One no-op task at a time (${SAMPLES} per side, the sides taking turns task by task, after ${WARM_UP} not timed), each side's worker a ` +
        `process of its own with concurrency ${concurrency}. taskpool: \`client.submit\` → \`handle.result()\` (input and output parsed by zod on ` +
        'both ends); BullMQ: `queue.add` → its `completed` event on a QueueEvents reader. `p50VsBullmq` compares taskpool\'s default (a sandbox ' +
        'process per task: one IPC round trip more) with a BullMQ processor function; `inlineP50VsBullmq` and `sandboxP50VsBullmqSandboxed` ' +
        'compare like with like (BullMQ\'s sandboxed processor runs the job in a child process too). Both sides check every result. ' +
        'Target (issue #14): `p50VsBullmq` ≤ 1.1.',
    };
  } finally {
    await client.close();
    await Promise.all(raw.flatMap(({ queue, events }) => [queue.close(), events.close()]));
    await Promise.all(workers.map((w) => w.stop()));
  }
}

