/**
 * `npm run bench`: starts a throwaway redis-server (a free port, never 6379, in a temp dir), runs every
 * benchmark one after another, prints their figures and writes them, with the machine, to
 * `bench/results/latest.json` and `latest.md`. `BENCH_ONLY=cpuSpeedup,idleMemory` runs a subset and writes
 * `partial.json` and `partial.md` instead.
 *
 * A benchmark is a module named after its one export, `(ctx) => Promise<{ name, figures, notes? }>`;
 * add it to BENCHMARKS below.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { startLocalRedis } from '../scripts/localRedis.ts';
import type { Benchmark, BenchResult } from './benchmark.ts';
import { chordFlow } from './chordFlow.ts';
import { cpuSpeedup } from './cpuSpeedup.ts';
import { describeMachine } from './describeMachine.ts';
import { fetchModes } from './fetchModes.ts';
import { formatMarkdown, formatTable, type BenchRun } from './formatResults.ts';
import { granularity } from './granularity.ts';
import { idleMemory } from './idleMemory.ts';
import { latency } from './latency.ts';
import { leanLaneProbe } from './leanLaneProbe.ts';
import { mapAuto } from './mapAuto.ts';
import { mapInstructions } from './mapInstructions.ts';
import { mapThroughput } from './mapThroughput.ts';
import { objectsByReference } from './objectsByReference.ts';
import { redisPerJob } from './redisPerJob.ts';
import { keyedLimit } from './keyedLimit.ts';

const BENCHMARKS: Record<string, Benchmark> = { chordFlow, cpuSpeedup, fetchModes, granularity, idleMemory, keyedLimit, latency, leanLaneProbe, mapThroughput, mapAuto, mapInstructions, objectsByReference, redisPerJob };

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

async function main(): Promise<void> {
  const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = only?.filter((name) => !(name in BENCHMARKS)) ?? [];
  if (unknown.length > 0) throw new Error(`Unknown benchmark(s) ${unknown.join(', ')}; known: ${Object.keys(BENCHMARKS).join(', ')}`);
  const selected = Object.entries(BENCHMARKS).filter(([name]) => !only || only.includes(name));

  const started = performance.now();
  const machine = describeMachine();
  const loadAverage = loadavg().map((n) => Math.round(n * 100) / 100);
  const log = (message: string): void => void process.stderr.write(`${message}\n`);
  const redisDir = await mkdtemp(join(tmpdir(), 'taskpool-bench-'));
  const redis = await startLocalRedis({ dir: redisDir });
  log(`redis-server on port ${redis.port} (pid ${redis.pid}); ${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}`);
  log(`load average ${loadAverage.join(' ')}${loadAverage[0]! > 0.5 ? ': other processes are busy, expect noisy figures' : ''}`);
  const results: BenchResult[] = [];
  try {
    for (const [name, bench] of selected) {
      log(`\n${name}`);
      const prefix = `bench-${name}-${randomUUID().slice(0, 8)}`;
      results.push(await bench({ redisUrl: redis.url, redisPid: redis.pid, prefix, root: ROOT, log }));
    }
  } finally {
    await redis.stop();
    await rm(redisDir, { recursive: true, force: true });
  }

  const run: BenchRun = {
    date: new Date().toISOString(),
    command: only ? `BENCH_ONLY=${only.join(',')} npm run bench` : 'npm run bench',
    machine,
    loadAverageAtStart: loadAverage,
    durationS: Math.round((performance.now() - started) / 1000),
    results,
  };
  console.log(`\n${formatTable(run)}`);
  // Only a full run replaces `latest`, so BENCHMARKS.md's figures always come from one run of everything.
  const file = only ? 'partial' : 'latest';
  await mkdir(RESULTS_DIR, { recursive: true });
  await writeFile(join(RESULTS_DIR, `${file}.json`), `${JSON.stringify(run, null, 2)}\n`);
  await writeFile(join(RESULTS_DIR, `${file}.md`), formatMarkdown(run));
  log(`\nWrote bench/results/${file}.json and ${file}.md (${run.durationS} s).`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
