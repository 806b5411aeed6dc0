import { performance } from 'node:perf_hooks';
import { createClient } from '@taskpool/core';
import { noop } from './benchTasks.ts';
import { heapUsedMiB } from './heap.ts';

/** What {@link bigMap} measured. */
export interface BigMapResult {
  /** Items whose results the loop read (all of them, unless the time budget ran out). */
  items: number;
  ms: number;
  /** The budget ran out before the last result. */
  stopped: boolean;
  /** This process's V8 heap after a full GC: with the client connected and warm, before the map; after its last result. */
  heapBeforeMiB: number;
  heapAfterMiB: number;
  /** The most heap seen in use during the map (sampled every 100 ms, no GC forced). */
  heapPeakMiB: number;
  /** CPU of this process (the client) over the map, µs per item. */
  clientCpuUsPerItem: number;
}

const SAMPLE_MS = 100;
const CHECK_EVERY = 1_024;

/**
 * `client.map(noop, inputs)` with the default options over `n` tiny items `{ i }`, made lazily by a generator
 * (the inputs are never an array), each result checked and dropped: the client's heap should stay flat. Stops
 * reading after `budgetMs` (leaving the loop cancels the map's jobs) so that a slow design still ends; the rate
 * is then over the items read.
 */
export async function bigMap(redisUrl: string, prefix: string, n: number, budgetMs: number, warmUp: number): Promise<BigMapResult> {
  const client = createClient({ redisUrl, prefix });
  let sampler: NodeJS.Timeout | undefined;
  try {
    const inputs = function* (count: number): Generator<{ i: number }> {
      for (let i = 0; i < count; i++) yield { i };
    };
    let warm = 0;
    for await (const out of client.map(noop, inputs(warmUp))) if ((out as { i: number }).i === warm) warm++;
    if (warm !== warmUp) throw new Error(`big map warm-up: ${warm} of ${warmUp} results right`);

    const heapBeforeMiB = heapUsedMiB();
    let heapPeakMiB = heapBeforeMiB;
    sampler = setInterval(() => (heapPeakMiB = Math.max(heapPeakMiB, process.memoryUsage().heapUsed / 2 ** 20)), SAMPLE_MS);
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    let items = 0;
    let stopped = false;
    for await (const out of client.map(noop, inputs(n))) {
      if ((out as { i: number }).i !== items) throw new Error(`big map: result ${items} is ${JSON.stringify(out)}`);
      items++;
      if (items % CHECK_EVERY === 0 && performance.now() - started > budgetMs) {
        stopped = items < n;
        break;
      }
    }
    const ms = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    clearInterval(sampler);
    const heapAfterMiB = heapUsedMiB();
    return { items, ms, stopped, heapBeforeMiB, heapAfterMiB, heapPeakMiB, clientCpuUsPerItem: (cpu.user + cpu.system) / items };
  } finally {
    clearInterval(sampler);
    await client.close();
  }
}
