import { performance } from 'node:perf_hooks';
import { createClient, type AnyTask } from '@taskpool/core';
import type { BenchContext, BenchResult } from './benchmark.ts';
import { free, keyed } from './keyedTasks.ts';
import { processUsage } from './processUsage.ts';
import { spawnWorker } from './spawnWorker.ts';
import { median, round1, round2 } from './stats.ts';

const JOBS = Number(process.env.BENCH_FLOW_JOBS ?? 20_000);
const KEYS = 1_000;
const WINDOW = 1_000;
const ROUNDS = 2;

/**
 * The cost of the admission gate (issue #16): no-op inline jobs, each submitted with `client.submit` and its
 * result awaited (windows of 1,000 in flight), over 1,000 keys, through one worker process, with a keyed limit of
 * 10 per key (`bench.flowKeyed`) and without any limit (`bench.flowFree`), the sides taking turns for two rounds.
 */
export async function keyedLimit(ctx: BenchContext): Promise<BenchResult> {
  const sides: [string, AnyTask][] = [
    ['free', free],
    ['keyed', keyed],
  ];
  const perS: Record<string, number[]> = { free: [], keyed: [] };
  const cpu: Record<string, { client: number; worker: number; redis: number }[]> = { free: [], keyed: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, task] of round % 2 === 0 ? sides : [...sides].reverse()) {
      const prefix = `${ctx.prefix}-${name}-${round}`;
      const worker = await spawnWorker({ root: ctx.root, redisUrl: ctx.redisUrl, prefix, tasks: 'bench/keyedTasks.ts', concurrency: 2, sandboxes: 0, queues: [task.defaults.queue!] });
      const client = createClient({ redisUrl: ctx.redisUrl, prefix });
      try {
        const run = async (count: number): Promise<void> => {
          for (let at = 0; at < count; at += WINDOW) {
            const handles = await Promise.all(Array.from({ length: Math.min(WINDOW, count - at) }, (_, j) => client.submit(task, { i: at + j, key: `t${(at + j) % KEYS}` })));
            const results = (await Promise.all(handles.map((h) => h.result({ timeoutMs: 120_000 })))) as { i: number }[];
            if (results.some((r, j) => r.i !== at + j)) throw new Error(`${name}: wrong results`);
          }
        };
        await run(WINDOW);
        const before = { client: process.cpuUsage(), worker: processUsage(worker.pid).cpuMs, redis: processUsage(ctx.redisPid).cpuMs };
        const started = performance.now();
        await run(JOBS);
        const ms = performance.now() - started;
        const used = process.cpuUsage(before.client);
        perS[name]!.push(JOBS / (ms / 1000));
        cpu[name]!.push({
          client: (used.user + used.system) / JOBS,
          worker: ((processUsage(worker.pid).cpuMs - before.worker) * 1000) / JOBS,
          redis: ((processUsage(ctx.redisPid).cpuMs - before.redis) * 1000) / JOBS,
        });
        ctx.log(`round ${round + 1}, ${name}: ${Math.round(JOBS / (ms / 1000))} jobs/s`);
      } finally {
        await client.close();
        await worker.stop();
      }
    }
  }
  const figures: Record<string, number | string> = { jobs: JOBS, keys: KEYS, limitPerKey: 10, window: WINDOW, rounds: ROUNDS };
  for (const name of ['free', 'keyed']) {
    figures[`${name}PerS`] = Math.round(median(perS[name]!));
    const c = cpu[name]!;
    figures[`${name}CpuUsPerJob`] = `client ${round1(median(c.map((x) => x.client)))} / worker ${round1(median(c.map((x) => x.worker)))} / redis ${round1(median(c.map((x) => x.redis)))}`;
  }
  figures.keyedVsFree = round2(median(perS.keyed!) / median(perS.free!));
  return {
    name: 'keyedLimit',
    figures,
    notes:
      `${JOBS} no-op inline jobs per side after ${WINDOW} not timed, over ${KEYS} keys (key = i mod ${KEYS}), each \`client.submit\`ted and its result awaited, ` +
      `${WINDOW} in flight; one taskpool-worker per side; the sides take turns for ${ROUNDS} rounds (medians). keyed: \`concurrency: { key, limit: 10 }\` ` +
      '(the admission gate: an add delayed until admitted, the gate script, a promote; at the end the release script and the next promotes); ' +
      'free: the same task without limits. Target (issue #16): keyedVsFree ≥ 0.8. CPU µs per job of the client (this process), the worker process and redis-server.',
  };
}
