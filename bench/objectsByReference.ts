import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { createClient } from '@taskpool/core';
import { encodeValue, taskJobData } from '@taskpool/core/internal';
import type { BenchContext, BenchResult } from './benchmark.ts';
import { bigResult, spin, sumByRef, sumInline } from './objectTasks.ts';
import { spawnWorker } from './spawnWorker.ts';
import { round2 } from './stats.ts';

const MB = Number(process.env.BENCH_OBJECT_MB ?? 20);
const TASKS = Number(process.env.BENCH_OBJECT_TASKS ?? 200);
const RESULT_MB = Number(process.env.BENCH_RESULT_MB ?? 50);
/**
 * Jobs in flight in the by-reference and baseline maps: the same for both, so that what Redis moves by time (lock
 * renewals, the client's sweeps of the jobs it awaits) weighs the same per task on both sides.
 */
const WINDOW = 16;
/** The claim check off: every value inline, whatever its size. */
const NEVER = Number.MAX_SAFE_INTEGER;
const POLL_MS = 25;

/** What one side cost: wall time, bytes through Redis (in and out) per task, and Redis's peak memory over its baseline. */
interface Side {
  tasks: number;
  ms: number;
  redisBytesPerTask: number;
  peakRedisMiB: number;
}

/**
 * Issue #15's benchmark, scaled by `BENCH_OBJECT_MB` (default 20) and `BENCH_OBJECT_TASKS` (default 200): a `map`
 * of TASKS tasks that each sum the bytes of one shared MB-MiB buffer passed by reference (`client.put` into a
 * shared directory; each worker machine fetches it once into its cache), against a tenth as many tasks that
 * each carry the buffer in their input (base64, as a task without references must). One worker process with a
 * sandbox per core; the same redis-server for both sides. Figures: wall time, bytes through Redis per task
 * (`INFO stats` net input + output), and the peak of Redis's `used_memory` over its level before the side.
 */
export async function objectsByReference(ctx: BenchContext): Promise<BenchResult> {
  const dir = await mkdtemp(join(tmpdir(), 'tp-bench-objects-'));
  const admin = new Redis(ctx.redisUrl);
  const workerEnv = { TASKPOOL_OBJECTS_DIR: dir, TASKPOOL_OBJECT_CACHE_DIR: join(dir, 'cache') };
  let worker = await spawnWorker({ root: ctx.root, redisUrl: ctx.redisUrl, prefix: ctx.prefix, tasks: 'bench/objectTasks.ts', concurrency: 2, env: workerEnv });
  const bytes = Math.round(MB * 1024 * 1024);
  const biggest = Math.max(2 * bytes, 2 * RESULT_MB * 1024 * 1024);
  // The inline side's jobs carry the whole buffer: its client's job cap is raised, and its claim check is off. Its
  // completed jobs are removed after 30 s (not at once: the client reads the result from the job): at the default retention (24 h) they would stay in Redis with their
  // inputs, and 200 inputs of 100 MiB (133 MiB as base64) do not fit this machine's memory (Redis was OOM-killed at 20 GB).
  const client = createClient({ redisUrl: ctx.redisUrl, prefix: ctx.prefix, objects: { dir, maxBytes: biggest } });
  const inlineClient = createClient({ redisUrl: ctx.redisUrl, prefix: ctx.prefix, maxJobBytes: biggest, keep: { completedSeconds: 30 }, objects: { dir, maxBytes: biggest, inlineMaxBytes: NEVER } });
  try {
    const data = Buffer.alloc(bytes);
    for (let i = 0; i < bytes; i++) data[i] = (i * 7) % 256;
    const expected = data.reduce((total, byte) => total + byte, 0);
    const measure = async (label: string, tasks: number, run: () => Promise<number[]>, each = expected): Promise<Side> => {
      const net = async (): Promise<number> => {
        const info = await admin.info('stats');
        const read = (name: string): number => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
        return read('total_net_input_bytes') + read('total_net_output_bytes');
      };
      const memory = async (): Promise<number> => Number(/^used_memory:(\d+)/m.exec(await admin.info('memory'))?.[1] ?? 0);
      const baseline = await memory();
      let peak = baseline;
      const sampler = setInterval(() => void memory().then((m) => (peak = Math.max(peak, m)), () => undefined), POLL_MS);
      const netBefore = await net();
      const started = performance.now();
      const sums = await run();
      const ms = performance.now() - started;
      clearInterval(sampler);
      peak = Math.max(peak, await memory());
      const through = (await net()) - netBefore;
      if (sums.length !== tasks || sums.some((s) => s !== each)) throw new Error(`${label}: wrong sums`);
      const side = { tasks, ms: Math.round(ms), redisBytesPerTask: Math.round(through / tasks), peakRedisMiB: round2((peak - baseline) / 1024 / 1024) };
      ctx.log(`${label}: ${tasks} tasks in ${side.ms} ms; ${side.redisBytesPerTask} bytes through Redis per task; Redis peak +${side.peakRedisMiB} MiB`);
      return side;
    };
    /** A task's job data as stored (the envelope with its input): what each task itself carries through Redis. */
    const jobBytes = (input: unknown): number => Buffer.byteLength(JSON.stringify(taskJobData(encodeValue(input))));
    let byRefJobBytes = 0;
    const byRef = await measure('byReference', TASKS, async () => {
      const ref = await client.put(data);
      byRefJobBytes = jobBytes({ data: ref });
      try {
        return await client.map(sumByRef, Array.from({ length: TASKS }, () => ({ data: ref })), { chunkSize: 1, window: WINDOW }).toArray();
      } finally {
        await client.delete(ref);
      }
    });
    // What Redis moves per task without any object, for tasks as long as byRef's (BullMQ's fetch, finish, events, and
    // what runs by time: lock renewals, stall checks, the client's sweeps of awaited jobs): up to 200 tasks that spin as long.
    const spinMs = (byRef.ms * 2) / TASKS;
    const baselineTasks = Math.min(TASKS, 200);
    const baseline = await measure('baseline', baselineTasks, () => client.map(spin, Array.from({ length: baselineTasks }, () => ({ ms: spinMs })), { chunkSize: 1, window: WINDOW }).toArray(), 0);
    const inlineTasks = Math.max(1, Math.round(TASKS / 10));
    const encoded = data.toString('base64');
    const inline = await measure('inline', inlineTasks, () => inlineClient.map(sumInline, Array.from({ length: inlineTasks }, () => ({ data: encoded })), { chunkSize: 1, window: 4 }).toArray());
    // The same inputs with the claim check on (the default): each task's input stored as its own object, the job carrying its reference.
    const claimed = await measure('claimCheck', inlineTasks, () => client.map(sumInline, Array.from({ length: inlineTasks }, () => ({ data: encoded })), { chunkSize: 1, window: 4 }).toArray());
    // One big result: by reference (the worker's claim check, the default), then inline (a worker with it off).
    const length = async (c: typeof client): Promise<number[]> => [(await (await c.submit(bigResult, { mb: RESULT_MB })).result({ timeoutMs: 600_000 })).length];
    const resultBytes = RESULT_MB * 1024 * 1024;
    const resultByRef = await measure('resultByReference', 1, () => length(client), resultBytes);
    await worker.stop();
    worker = await spawnWorker({ root: ctx.root, redisUrl: ctx.redisUrl, prefix: ctx.prefix, tasks: 'bench/objectTasks.ts', concurrency: 2, env: { ...workerEnv, TASKPOOL_INLINE_MAX_BYTES: String(NEVER) } });
    const resultInline = await measure('resultInline', 1, () => length(inlineClient), resultBytes);
    return {
      name: 'objectsByReference',
      figures: {
        objectMiB: MB,
        byRefTasks: byRef.tasks,
        byRefMs: byRef.ms,
        byRefMsPerTask: round2(byRef.ms / byRef.tasks),
        byRefJobDataBytes: byRefJobBytes,
        byRefRedisBytesPerTask: byRef.redisBytesPerTask,
        baselineRedisBytesPerTask: baseline.redisBytesPerTask,
        byRefOverBaselineBytesPerTask: byRef.redisBytesPerTask - baseline.redisBytesPerTask,
        byRefPeakRedisMiB: byRef.peakRedisMiB,
        inlineTasks: inline.tasks,
        inlineMs: inline.ms,
        inlineMsPerTask: round2(inline.ms / inline.tasks),
        inlineJobDataBytes: jobBytes({ data: encoded }),
        inlineRedisBytesPerTask: inline.redisBytesPerTask,
        inlinePeakRedisMiB: inline.peakRedisMiB,
        claimCheckMs: claimed.ms,
        claimCheckMsPerTask: round2(claimed.ms / claimed.tasks),
        claimCheckRedisBytesPerTask: claimed.redisBytesPerTask,
        claimCheckPeakRedisMiB: claimed.peakRedisMiB,
        resultMiB: RESULT_MB,
        resultByRefMs: resultByRef.ms,
        resultByRefRedisBytes: resultByRef.redisBytesPerTask,
        resultByRefPeakRedisMiB: resultByRef.peakRedisMiB,
        resultInlineMs: resultInline.ms,
        resultInlineRedisBytes: resultInline.redisBytesPerTask,
        resultInlinePeakRedisMiB: resultInline.peakRedisMiB,
      },
      notes:
        `Each task sums the bytes of one ${MB} MiB buffer. byRef: ${TASKS} tasks, the buffer put once into a shared directory (TASKPOOL_OBJECTS_DIR) ` +
        'and read by each task with ctx.get through the machine\'s cache (one worker process, 2 sandboxes: one machine). inline: a tenth as many tasks, ' +
        'each carrying the buffer in its input as base64, at most 4 jobs in flight, completed jobs removed after 30 s (at the default retention, 24 h, they keep their inputs in Redis). JobDataBytes: one task\'s job data as stored (its envelope and input). ' +
        'RedisBytesPerTask: all of Redis\'s network traffic (INFO stats net input + output, every client: BullMQ\'s fetch and finish, events, ' +
        'heartbeats) over the tasks. Redis peak: the most used_memory over its level before the side, sampled every 25 ms. ' +
        'claimCheck: the inline side\'s inputs with the claim check on (the default): each input stored as its own object in the shared directory, ' +
        'the job carrying its reference. result: one task returning a RESULT_MB MiB string, by reference (the worker\'s claim check, to the shared ' +
        'directory) and inline (a worker with TASKPOOL_INLINE_MAX_BYTES past it). ' +
        'baseline: a map of up to 200 tasks that spin as long as a byRef task took (2 sandboxes), with no object: what Redis moves per task anyway; ' +
        'byRefOverBaseline: what passing the reference adds per task. Target (issue #15): under 1 KiB per task by reference.',
    };
  } finally {
    await client.close();
    await inlineClient.close();
    await worker.stop();
    admin.disconnect();
    await rm(dir, { recursive: true, force: true });
  }
}
