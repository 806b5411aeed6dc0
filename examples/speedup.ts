/**
 * Pool vs serial: runs COUNT (200) CPU-bound `countPrimes` tasks of ~50 ms through a worker with one sandbox
 * process per CPU, then the same COUNT calls one after another in this process, and prints both wall times.
 *
 *   npx tsx examples/speedup.ts            # starts a throwaway redis-server from PATH
 *   REDIS_URL=redis://127.0.0.1:6379 COUNT=500 npx tsx examples/speedup.ts
 *
 * The worker runs in this process, to keep the example short; `npm run bench` measures with a separate
 * worker process, as in production (see BENCHMARKS.md).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { ConfigError, createClient, createLogger } from '@taskpool/core';
import { startLocalRedis, type LocalRedis } from '../scripts/localRedis.ts';
import { startWorker } from '@taskpool/core/worker';
import { calibrateLimit } from './calibrateLimit.ts';
import { loadSpeedupEnv } from './env.ts';
import { createProgressBar } from './progressBar.ts';
import { countPrimes, countPrimesBelow } from './tasks.ts';

const TASKS_MODULE = fileURLToPath(new URL('./tasks.ts', import.meta.url));
const TASK_MS = 50;
const RESULT_TIMEOUT_MS = 120_000;

async function main(): Promise<void> {
  const env = loadSpeedupEnv();
  const concurrency = env.TASKPOOL_CONCURRENCY ?? availableParallelism();
  // Calibrating also warms this process's JIT up for the serial run.
  const { limit, msPerCall } = calibrateLimit(TASK_MS);
  console.log(`countPrimesBelow(${limit}) takes ${msPerCall.toFixed(1)} ms here; ${env.COUNT} tasks, ${concurrency} sandboxes.`);

  let redis: LocalRedis | undefined;
  let redisDir: string | undefined;
  if (env.REDIS_URL === undefined) {
    redisDir = await mkdtemp(join(tmpdir(), 'taskpool-speedup-'));
    redis = await startLocalRedis({ dir: redisDir });
    console.log(`Started redis-server on port ${redis.port} (pid ${redis.pid}).`);
  }
  const redisUrl = env.REDIS_URL ?? redis!.url;
  // A prefix of our own, so a worker already serving this Redis never takes these jobs.
  const prefix = `speedup-${randomUUID().slice(0, 8)}`;
  // Only warnings: per-job info lines would break the progress bar.
  const logger = createLogger({ level: 'warn' });

  const worker = await startWorker({ redisUrl, tasksModule: TASKS_MODULE, logger, prefix, concurrency });
  const client = createClient({ redisUrl, prefix });
  try {
    // Warm-up, not timed: the sandboxes' first tasks pay for JIT compilation and the client's first
    // submit for its connections and event listener; a long-running pool has paid for both already.
    const warmUp = await Promise.all(Array.from({ length: 2 * concurrency }, () => client.submit(countPrimes, { limit })));
    await Promise.all(warmUp.map((h) => h.result({ timeoutMs: RESULT_TIMEOUT_MS })));

    const bar = createProgressBar(env.COUNT, 'pool  ');
    const pooledStart = performance.now();
    const handles = await Promise.all(Array.from({ length: env.COUNT }, () => client.submit(countPrimes, { limit })));
    const results = await Promise.all(
      handles.map(async (h) => {
        const output = await h.result({ timeoutMs: RESULT_TIMEOUT_MS });
        bar.tick();
        return output;
      }),
    );
    const pooledMs = performance.now() - pooledStart;
    bar.done();

    const perPid = new Map<number, number>();
    for (const { pid } of results) perPid.set(pid, (perPid.get(pid) ?? 0) + 1);
    const pids = [...perPid].map(([pid, n]) => `pid ${pid} ran ${n}`).join(', ');
    console.log(`${results.length} results from ${perPid.size} sandbox processes (${pids}).`);
    await worker.close();

    const serialStart = performance.now();
    let expected = 0;
    for (let i = 0; i < env.COUNT; i++) expected = countPrimesBelow(limit);
    const serialMs = performance.now() - serialStart;
    const wrong = results.filter((r) => r.count !== expected).length;
    if (wrong > 0) throw new Error(`${wrong} pooled results differ from the serial count ${expected}`);

    console.log(`serial: ${(serialMs / 1000).toFixed(2)} s in this process`);
    console.log(`pool:   ${(pooledMs / 1000).toFixed(2)} s with ${concurrency} sandboxes (submit to last result)`);
    console.log(`speedup: ${(serialMs / pooledMs).toFixed(2)}x (every result = ${expected} primes, as serially)`);
  } finally {
    await worker.close();
    await client.close();
    await redis?.stop();
    if (redisDir) await rm(redisDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exitCode = 1;
});
