import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { createClient, type TaskpoolClient } from '@taskpool/core';
import type { BenchContext, BenchResult } from './benchmark.ts';
import { spin, spinLoop } from './granularityTasks.ts';
import { childPids, cpuMsBetween, liveCpuMs, machineBusyMs, processUsage } from './processUsage.ts';
import { findPython, startPythonPool, type PythonPool, type PythonRun } from './pythonPool.ts';
import { spawnWorker, type SpawnedWorker } from './spawnWorker.ts';
import { median, round2, round3 } from './stats.ts';

/** Task sizes, ms of CPU each. */
const SIZES_MS = [1, 5, 20, 50];
/** Serial work per size and side, ms: N = WORK_MS / size. `BENCH_GRANULARITY_WORK_MS` overrides. */
const WORK_MS = Number(process.env.BENCH_GRANULARITY_WORK_MS ?? 3_000);
/** Rounds; the figures are medians over them. `BENCH_GRANULARITY_ROUNDS` overrides. */
const ROUNDS = Number(process.env.BENCH_GRANULARITY_ROUNDS ?? 3);
const RESULT_TIMEOUT_MS = 300_000;
const CALIBRATION_MS = 20;

type Side = 'serial' | 'map' | 'submit' | 'pySerial' | 'pyPool';
const SIDES: Side[] = ['serial', 'map', 'submit', 'pySerial', 'pyPool'];

/** CPU ms of one pooled run of ours, by process. */
interface OurCpu {
  client: number;
  supervisor: number;
  sandboxes: number;
  redis: number;
}

interface SizeRound {
  wallMs: Partial<Record<Side, number>>;
  /** CPU ms of the serial run (this process). */
  serialCpuMs?: number;
  cpu: { map?: OurCpu; submit?: OurCpu; pySerial?: PythonRun; pyPool?: PythonRun };
}

/**
 * The granularity sweep: N tasks of 1, 5, 20 and 50 ms of CPU each (a calibrated busy loop that allocates
 * nothing) through a `taskpool-worker` with one sandbox per core, against the same calls run serially in this
 * process; beside Python's `ProcessPoolExecutor(max_workers=cores)` running the same loop (`bench/granularity.py`,
 * its own calibration to the same ms) against its own serial run, in the same rounds. N per size is about
 * `WORK_MS` of serial work. Two ways in for ours: `client.map(spin, inputs)` with the default options (what
 * the target compares) and one `client.submit` per call. Also reports the CPU per job of every process: the
 * client (this process), the worker's supervising process, the sandboxes and redis-server; Python's parent
 * and pool processes.
 */
export async function granularity(ctx: BenchContext): Promise<BenchResult> {
  const cores = availableParallelism();
  const itersPerMs = calibrate();
  const plan = SIZES_MS.map((ms) => ({ ms, n: Math.max(2 * cores, Math.round(WORK_MS / ms)), iterations: Math.round(ms * itersPerMs) }));
  ctx.log(`spinLoop: ${Math.round(itersPerMs)} iterations per ms here; sizes ${plan.map((p) => `${p.ms} ms x ${p.n}`).join(', ')}; ${ROUNDS} rounds`);

  const found = findPython();
  const python = 'python' in found ? await startPythonPool(found.python, cores) : undefined;
  if (!python) ctx.log(`Python side skipped: ${'missing' in found ? found.missing : ''}`);
  let worker: SpawnedWorker | undefined;
  let client: TaskpoolClient | undefined;
  const rounds: { sizes: SizeRound[]; otherCpuPct: number }[] = [];
  try {
    worker = await spawnWorker({ root: ctx.root, redisUrl: ctx.redisUrl, prefix: ctx.prefix, tasks: 'bench/granularityTasks.ts', concurrency: cores });
    client = createClient({ redisUrl: ctx.redisUrl, prefix: ctx.prefix });
    const ours = { client, worker, redisPid: ctx.redisPid };
    // Warm-up, not timed: the sandboxes' JIT, the client's connections and event reader.
    await runMap(ours, 8 * cores, Math.round(5 * itersPerMs));
    await runSubmit(ours, 8 * cores, Math.round(5 * itersPerMs));

    for (let r = 0; r < ROUNDS; r++) {
      // Each round runs the sides in another order, so a drift of the machine's speed favours none.
      const order = SIDES.map((_, i) => SIDES[(i + r) % SIDES.length]!);
      const start = { wall: performance.now(), machine: machineBusyMs(), ours: ourCpuMs(worker, ctx.redisPid, python) };
      const sizes: SizeRound[] = [];
      for (const { ms, n, iterations } of plan) {
        const round: SizeRound = { wallMs: {}, cpu: {} };
        for (const side of order) {
          if (side === 'serial') [round.wallMs.serial, round.serialCpuMs] = runSerial(n, iterations);
          if (side === 'map' || side === 'submit') {
            const measured = await (side === 'map' ? runMap : runSubmit)(ours, n, iterations);
            round.wallMs[side] = measured.wallMs;
            round.cpu[side] = measured.cpu;
          }
          if ((side === 'pySerial' || side === 'pyPool') && python) {
            const run = await python.run(side === 'pySerial' ? 'serial' : 'pool', ms, n);
            round.wallMs[side] = run.wallMs;
            round.cpu[side] = run;
          }
        }
        sizes.push(round);
        const w = round.wallMs;
        ctx.log(
          `round ${r + 1}, ${ms} ms x ${n}: serial ${s(w.serial!)}, map ${s(w.map!)} (${x(w.serial!, w.map!)}), submit ${s(w.submit!)} ` +
            `(${x(w.serial!, w.submit!)})${python ? `; Python serial ${s(w.pySerial!)}, pool ${s(w.pyPool!)} (${x(w.pySerial!, w.pyPool!)})` : ''}`,
        );
      }
      const other = machineBusyMs() - start.machine - (ourCpuMs(worker, ctx.redisPid, python) - start.ours);
      const otherCpuPct = Math.max(0, (100 * other) / ((performance.now() - start.wall) * cores));
      ctx.log(`round ${r + 1}: other processes used ${otherCpuPct.toFixed(1)}% of the CPU`);
      rounds.push({ sizes, otherCpuPct });
    }
  } finally {
    await client?.close();
    await worker?.stop();
    await python?.stop();
  }

  const figures: Record<string, number | string> = { cores, rounds: ROUNDS, workMsPerSize: WORK_MS, itersPerMs: Math.round(itersPerMs) };
  if (python) figures.pythonItersPerMs = Math.round(python.itersPerMs);
  const met: string[] = [];
  plan.forEach(({ ms, n }, i) => {
    const per = rounds.map((round) => round.sizes[i]!);
    // The serial work is the same in every round and noise only ever slows it: the fastest serial run of the size
    // is its time (a slowed serial run once gave Python 2.97x on 2 cores), over the median pooled run.
    const speedup = (side: Side, serial: Side): number => Math.min(...per.map((p) => p.wallMs[serial]!)) / median(per.map((p) => p.wallMs[side]!));
    const serialMsPerCall = median(per.map((p) => p.wallMs.serial!)) / n;
    // The overhead is the CPU beyond the call's own: its CPU time, not its wall time (which counts preemption).
    const serialCpuMsPerCall = median(per.map((p) => p.serialCpuMs!)) / n;
    const k = `ms${ms}`;
    figures[`${k}Tasks`] = n;
    figures[`${k}SerialMsPerCall`] = round3(serialMsPerCall);
    figures[`${k}SerialCpuMsPerCall`] = round3(serialCpuMsPerCall);
    figures[`${k}MapSpeedup`] = round3(speedup('map', 'serial'));
    figures[`${k}SubmitSpeedup`] = round3(speedup('submit', 'serial'));
    for (const side of ['map', 'submit'] as const) {
      const cpu = (pick: (c: OurCpu) => number): number => median(per.map((p) => pick(p.cpu[side]!))) / n;
      const parts = { client: cpu((c) => c.client), supervisor: cpu((c) => c.supervisor), sandboxes: cpu((c) => c.sandboxes), redis: cpu((c) => c.redis) };
      const total = parts.client + parts.supervisor + parts.sandboxes + parts.redis;
      figures[`${k}${side === 'map' ? 'Map' : 'Submit'}CpuMsPerJob`] =
        `client ${round2(parts.client)} / supervisor ${round2(parts.supervisor)} / sandboxes ${round2(parts.sandboxes)} / redis ${round2(parts.redis)}`;
      figures[`${k}${side === 'map' ? 'Map' : 'Submit'}OverheadCpuMsPerJob`] = round2(total - serialCpuMsPerCall);
    }
    if (python) {
      const pySpeedup = speedup('pyPool', 'pySerial');
      const pySerialMsPerCall = median(per.map((p) => p.wallMs.pySerial!)) / n;
      const pySerialCpuMsPerCall = median(per.map((p) => p.cpu.pySerial!.parentCpuMs)) / n;
      const parent = median(per.map((p) => p.cpu.pyPool!.parentCpuMs)) / n;
      const poolCpu = per.map((p) => p.cpu.pyPool!.poolCpuMs);
      const pool = poolCpu.every((c) => c !== null) ? median(poolCpu as number[]) / n : NaN;
      figures[`${k}PythonSerialMsPerCall`] = round3(pySerialMsPerCall);
      figures[`${k}PythonSpeedup`] = round3(pySpeedup);
      figures[`${k}PythonCpuMsPerJob`] = `parent ${round2(parent)} / pool ${Number.isNaN(pool) ? 'n/a' : round2(pool)}`;
      figures[`${k}PythonOverheadCpuMsPerJob`] = Number.isNaN(pool) ? 'n/a' : round2(parent + pool - pySerialCpuMsPerCall);
      const ratio = speedup('map', 'serial') / pySpeedup;
      figures[`${k}MapVsPython`] = round3(ratio);
      figures[`${k}SubmitVsPython`] = round3(speedup('submit', 'serial') / pySpeedup);
      figures[`${k}TargetMet`] = ratio >= 1 ? 'yes' : 'no';
      met.push(`${ms} ms: ${ratio >= 1 ? 'met' : 'not met'}`);
    }
  });
  figures.otherCpuPct = round2(median(rounds.map((r) => r.otherCpuPct)));
  figures.otherCpuPctMax = round2(Math.max(...rounds.map((r) => r.otherCpuPct)));
  return {
    name: 'granularity',
    figures,
    notes:
      `N tasks of each size (about ${WORK_MS} ms of serial work per size), ${ROUNDS} rounds, medians; each round runs every side of every ` +
      'size, the order of the sides rotating from round to round. The task is `spinLoop(iterations)` (`bench/granularityTasks.ts`, a 30-bit LCG, ' +
      'no allocation), calibrated once in this process (itersPerMs); the same iteration count runs serially here and in the sandboxes of a ' +
      `\`taskpool-worker\` with ${cores} sandboxes (one per core). Map = \`client.map(spin, inputs)\` with the default options, submit = one ` +
      '`client.submit` per call, all at once, then every result; speedup = the fastest serial wall of the size over its rounds / the median pool wall (noise only ever slows the serial work, the same in every round; per-round ratios are in the log), on both sides. Python: `bench/granularity.py --serve`, ' +
      `calibrated in its own process to the same ms, \`ProcessPoolExecutor(max_workers=${cores}).map\` (chunksize 1) against its own serial ` +
      `loop.${python ? '' : ` **Python side skipped**: ${'missing' in found ? found.missing : ''}.`} Target: msNMapSpeedup ≥ msNPythonSpeedup ` +
      `at every size (msNMapVsPython ≥ 1)${met.length > 0 ? `: ${met.join(', ')}` : ''}. CPU per job (10 ms ticks over N jobs): client = this process ` +
      'during the pooled run, supervisor = the worker process, sandboxes = its child processes, redis = redis-server; OverheadCpuMsPerJob = ' +
      'their sum minus the CPU time of one serial call (SerialCpuMsPerCall; SerialMsPerCall is its wall time). Python: parent = its main process (feeder and result threads), pool = its worker processes. ' +
      'otherCpuPct: CPU used by processes outside the benchmark during a round, in % of the machine.',
  };
}

/** Iterations of `spinLoop` per ms in this process: warmed up, then the fastest of five ~20 ms runs. */
function calibrate(): number {
  let k = 100_000;
  for (let ms = 0; ms < CALIBRATION_MS; k *= 2) {
    const started = performance.now();
    spinLoop(k);
    ms = performance.now() - started;
  }
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    spinLoop(k);
    best = Math.min(best, performance.now() - started);
  }
  return k / best;
}

/** Runs `n` calls here, one after another; returns their wall and CPU ms. */
function runSerial(n: number, iterations: number): [number, number] {
  const expected = spinLoop(iterations);
  const cpu = process.cpuUsage();
  const started = performance.now();
  let same = 0;
  for (let i = 0; i < n; i++) if (spinLoop(iterations) === expected) same++;
  const ms = performance.now() - started;
  const { user, system } = process.cpuUsage(cpu);
  if (same !== n) throw new Error(`serial: ${n - same} of ${n} calls gave another value`);
  return [ms, (user + system) / 1000];
}

interface Ours {
  client: TaskpoolClient;
  worker: SpawnedWorker;
  redisPid: number;
}

/** Times one pooled run from its first call to its last result, with the CPU every process of ours spent. */
async function measurePooled(ours: Ours, n: number, iterations: number, run: () => Promise<{ x: number }[]>): Promise<{ wallMs: number; cpu: OurCpu }> {
  const sandboxes = childPids(ours.worker.pid, '');
  const read = () => ({ client: clientCpuMs(), supervisor: liveCpuMs([ours.worker.pid]), sandboxes: liveCpuMs(sandboxes), redis: liveCpuMs([ours.redisPid]) });
  const before = read();
  const started = performance.now();
  const outputs = await run();
  const wallMs = performance.now() - started;
  const after = read();
  const expected = spinLoop(iterations);
  const wrong = outputs.filter((o) => o.x !== expected).length;
  if (outputs.length !== n || wrong > 0) throw new Error(`pooled: ${outputs.length} results for ${n} calls, ${wrong} wrong`);
  return {
    wallMs,
    cpu: {
      client: after.client - before.client,
      supervisor: cpuMsBetween(before.supervisor, after.supervisor),
      sandboxes: cpuMsBetween(before.sandboxes, after.sandboxes),
      redis: cpuMsBetween(before.redis, after.redis),
    },
  };
}

function runMap(ours: Ours, n: number, iterations: number): Promise<{ wallMs: number; cpu: OurCpu }> {
  return measurePooled(ours, n, iterations, () => ours.client.map(spin, Array.from({ length: n }, () => ({ iterations }))).toArray());
}

function runSubmit(ours: Ours, n: number, iterations: number): Promise<{ wallMs: number; cpu: OurCpu }> {
  return measurePooled(ours, n, iterations, async () => {
    const handles = await Promise.all(Array.from({ length: n }, () => ours.client.submit(spin, { iterations })));
    return Promise.all(handles.map((h) => h.result({ timeoutMs: RESULT_TIMEOUT_MS })));
  });
}

/** The CPU of every process of this benchmark: itself, the worker and its sandboxes, Redis, Python and its pool. */
function ourCpuMs(worker: SpawnedWorker, redisPid: number, python: PythonPool | undefined): number {
  const self = processUsage('self');
  const pids = [worker.pid, ...childPids(worker.pid, ''), redisPid, ...(python ? [python.pid, ...childPids(python.pid, '')] : [])];
  return self.cpuMs + Object.values(liveCpuMs(pids)).reduce((a, b) => a + b, 0);
}

function clientCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const x = (serial: number, pooled: number): string => `${(serial / pooled).toFixed(2)}x`;
