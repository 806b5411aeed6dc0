import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { createClient, type AnyTask } from '@taskpool/core';
import { bufferHog, heapHog, ok } from './fixtures/crashTasks.ts';
import { failedView } from './helpers/settle.ts';
import { spawnWorker, type Service } from './helpers/spawnService.ts';
import { redisUrl, testPrefix } from './helpers/testRedis.ts';

const basePrefix = testPrefix(import.meta.url);
const services: Service[] = [];
afterAll(async () => {
  await Promise.all(services.map((s) => s.stop('SIGKILL')));
});

const CAP_MB = 200;
/** The stated bound: an attempt over its memory cap fails (reason `oom`) within this long after the crossing. */
const BOUND_MS = 2_000;

/** RSS of a process in MiB, or undefined once it is gone. */
function rssMb(pid: number): number | undefined {
  try {
    return (Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * 4_096) / 1_048_576;
  } catch {
    return undefined;
  }
}

/**
 * Samples a process's RSS every few ms from this (independent) process. `crossedBy()` is the latest moment the
 * crossing of `capMb` can have happened by, as this process saw it: the first sample over the cap or, when the
 * process was killed between two samples (the worker samples too, and kills at once), the last sample under it.
 * Either way the real crossing is no earlier, so a bound measured from it is never flattered.
 */
function watchRss(pid: number, capMb: number): { crossedBy(): number | undefined; maxMb(): number; stop(): void } {
  let crossedAt: number | undefined;
  let lastUnderAt: number | undefined;
  let max = 0;
  const timer = setInterval(() => {
    const rss = rssMb(pid);
    if (rss === undefined) return;
    max = Math.max(max, rss);
    if (rss > capMb) crossedAt ??= Date.now();
    else if (crossedAt === undefined) lastUnderAt = Date.now();
  }, 5);
  return { crossedBy: () => crossedAt ?? lastUnderAt, maxMb: () => max, stop: () => clearInterval(timer) };
}

const cases: [string, AnyTask][] = [
  ['the heap fills first (8 MB JS arrays in a sync loop)', heapHog],
  ['RSS fills first (Buffers outside the heap)', bufferHog],
];

describe(`a sandbox over TASKPOOL_MAX_MEMORY_MB=${CAP_MB} fails with reason oom within ${BOUND_MS} ms of the crossing`, () => {
  it.each(cases)('%s', async (_what, task) => {
    const prefix = `${basePrefix}-${task.name}`;
    await using client = createClient({ redisUrl: redisUrl(), prefix });
    const worker = await spawnWorker({ redisUrl: redisUrl(), prefix, tasks: 'test/fixtures/crashTasks.ts', concurrency: 1, env: { TASKPOOL_MAX_MEMORY_MB: String(CAP_MB) } });
    services.push(worker);
    const [pid] = worker.sandboxPids;
    expect(rssMb(pid!)).toBeLessThan(CAP_MB);
    const watch = watchRss(pid!, CAP_MB);
    try {
      const handle = await client.submit(task, {}, { attempts: 1 });
      const fail = await worker.waitFor((line) => line.event === 'job:fail' && line.jobId === handle.id, 60_000);
      const view = await failedView(handle);
      expect(view.error).toMatchObject({ reason: 'oom', fields: { pid } });
      expect(fail.reason).toBe('oom');
      // Seen filling up to the cap (at least 90% of it) from here too, not only by the worker.
      expect(watch.maxMb(), `RSS of ${pid} never seen near ${CAP_MB} MiB`).toBeGreaterThan(CAP_MB * 0.9);
      const crossedBy = watch.crossedBy();
      expect(crossedBy).toBeDefined();
      const lateMs = Number(fail.time) - crossedBy!;
      expect(lateMs, `failed ${lateMs} ms after RSS crossed the cap`).toBeLessThan(BOUND_MS);
    } finally {
      watch.stop();
    }
    // The worker serves on with a fresh sandbox.
    const { pid: next } = await (await client.submit(ok, {})).result({ timeoutMs: 30_000 });
    expect(next).not.toBe(pid);
  });
});
