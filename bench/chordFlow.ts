import { performance } from 'node:perf_hooks';
import { FlowProducer, Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { chord, createClient, group } from '@taskpool/core';
import type { BenchContext, BenchResult } from './benchmark.ts';
import { chordMember, chordSum } from './chordTasks.ts';
import { startQueueWorker } from './startQueueWorker.ts';

const ROUNDS = 3;
/** Jobs each worker runs at once, the same on both sides. */
const CONCURRENCY = 32;
const RAW_QUEUE = 'raw-chord';
const KEEP = { age: 24 * 3600 };

type Side = 'taskpool' | 'bullmq';

/**
 * A chord of 10,000 no-op members (`BENCH_CHORD_CHILDREN`) and a callback that sums them, against a plain
 * BullMQ flow of the same shape (one parent, 10,000 children, the parent's processor summing
 * `getChildrenValues()`), side by side in each of 3 rounds, the order alternating. Each side has one worker
 * process running 32 jobs at a time on its event loop (taskpool: `isolation: 'inline'`; BullMQ: a processor
 * function), both keeping finished jobs 24 h. Timed from the call that sends the flow to the callback's
 * result in the caller (taskpool: `handle.result()`; BullMQ: the parent's `completed` event). Redis memory:
 * `used_memory` sampled every 20 ms, the peak over the round's start, and what is left once it is done.
 */
export async function chordFlow(ctx: BenchContext): Promise<BenchResult> {
  const members = Number(process.env.BENCH_CHORD_CHILDREN ?? 10_000);
  const redis = new Redis(ctx.redisUrl);
  const client = createClient({ redisUrl: ctx.redisUrl, prefix: ctx.prefix });
  const connection = { url: ctx.redisUrl };
  const flows = new FlowProducer({ connection, prefix: ctx.prefix });
  const events = new QueueEvents(RAW_QUEUE, { connection, prefix: ctx.prefix });
  const queues = ['bench-chord', RAW_QUEUE].map((name) => new Queue(name, { connection, prefix: ctx.prefix }));
  const workers = await Promise.all([startQueueWorker(ctx, 'taskpool-chord', 'bench-chord', CONCURRENCY), startQueueWorker(ctx, 'bullmq-flow', RAW_QUEUE, CONCURRENCY)]);
  const expected = (members * (members - 1)) / 2;
  const samples: Record<Side, { ms: number; peakMb: number; keptMb: number }[]> = { taskpool: [], bullmq: [] };
  try {
    await events.waitUntilReady();
    const runs: Record<Side, () => Promise<number>> = {
      async taskpool() {
        const handle = await client.run(chord(group(Array.from({ length: members }, (_, i) => chordMember.with({ i }))), chordSum));
        return handle.result({ timeoutMs: 300_000 });
      },
      async bullmq() {
        const id = `raw-${Date.now()}`;
        const done = new Promise<number>((resolve) =>
          (events as unknown as NodeJS.EventEmitter).once(`completed:${id}`, (event: { returnvalue: string | number }) => resolve(Number(event.returnvalue))),
        );
        await flows.add({
          name: 'sum',
          queueName: RAW_QUEUE,
          opts: { jobId: id, removeOnComplete: KEEP, removeOnFail: KEEP },
          children: Array.from({ length: members }, (_, i) => ({ name: 'member', queueName: RAW_QUEUE, data: { i }, opts: { removeOnComplete: KEEP, removeOnFail: KEEP } })),
        });
        return done;
      },
    };
    for (let round = 0; round < ROUNDS; round++) {
      const order: Side[] = round % 2 === 0 ? ['taskpool', 'bullmq'] : ['bullmq', 'taskpool'];
      for (const side of order) {
        await Promise.all(queues.map((q) => q.obliterate({ force: true })));
        const base = await usedMemory(redis);
        let peak = base;
        const sampler = setInterval(() => void usedMemory(redis).then((m) => (peak = Math.max(peak, m))), 20);
        const started = performance.now();
        const sum = await runs[side]();
        const ms = performance.now() - started;
        clearInterval(sampler);
        if (sum !== expected) throw new Error(`${side}: sum ${sum}, expected ${expected}`);
        const kept = await usedMemory(redis);
        samples[side].push({ ms, peakMb: (Math.max(peak, kept) - base) / 2 ** 20, keptMb: (kept - base) / 2 ** 20 });
        ctx.log(`  round ${round + 1} ${side}: ${Math.round(ms)} ms, peak +${((Math.max(peak, kept) - base) / 2 ** 20).toFixed(1)} MiB`);
      }
    }
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await Promise.all([client.close(), flows.close(), events.close(), ...queues.map((q) => q.close())]);
    redis.disconnect();
  }
  const med = (side: Side, key: 'ms' | 'peakMb' | 'keptMb'): number => median(samples[side].map((s) => s[key]));
  const round1 = (n: number): number => Math.round(n * 10) / 10;
  return {
    name: 'chordFlow',
    figures: {
      members,
      'taskpool ms to result': Math.round(med('taskpool', 'ms')),
      'BullMQ flow ms to result': Math.round(med('bullmq', 'ms')),
      'time ratio taskpool/BullMQ': Math.round((med('taskpool', 'ms') / med('bullmq', 'ms')) * 100) / 100,
      'taskpool peak Redis MiB': round1(med('taskpool', 'peakMb')),
      'BullMQ peak Redis MiB': round1(med('bullmq', 'peakMb')),
      'memory ratio taskpool/BullMQ': Math.round((med('taskpool', 'peakMb') / med('bullmq', 'peakMb')) * 100) / 100,
      'taskpool Redis MiB kept after': round1(med('taskpool', 'keptMb')),
      'BullMQ Redis MiB kept after': round1(med('bullmq', 'keptMb')),
    },
    notes: `Medians of ${ROUNDS} rounds; per round: ${(['taskpool', 'bullmq'] as const).map((side) => `${side} ${samples[side].map((s) => Math.round(s.ms)).join('/')} ms`).join(', ')}.`,
  };
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}
