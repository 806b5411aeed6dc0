import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { createClient, type TaskpoolClient } from '@taskpool/core';
import { calibrateLimit } from '../examples/calibrateLimit.ts';
import { countPrimes, countPrimesBelow } from '../examples/tasks.ts';
import { bareParallel } from './bareParallel.ts';
import type { BenchContext, BenchResult } from './benchmark.ts';
import { cpuMsOf, machineBusyMs, processUsage } from './processUsage.ts';
import { spawnWorker } from './spawnWorker.ts';
import { median, round2, round3 } from './stats.ts';

const TASKS = 200;
const TASK_MS = 50;
/** Rounds run until this many were quiet (see NOISY_PCT), or MAX_ROUNDS have run. */
const QUIET_ROUNDS = 3;
const MAX_ROUNDS = 4;
const RESULT_TIMEOUT_MS = 120_000;
/** Above this share of the machine used by other processes, a round is flagged as noisy. */
const NOISY_PCT = 5;

type Side = 'serial' | 'pooled' | 'bare';
/** Each round runs the three sides in another order, so a drift of the machine's speed favours none. */
const ORDERS: Side[][] = [
  ['pooled', 'serial', 'bare'],
  ['serial', 'bare', 'pooled'],
  ['bare', 'pooled', 'serial'],
];

interface Round {
  serialMs: number;
  pooledMs: number;
  bareMs: number;
  /** CPU ms spent during the pooled side, by process. */
  cpu: { client: number; supervisor: number; sandboxes: number; redis: number };
  /** CPU used by processes other than this benchmark's, in % of the machine, over the whole round. */
  otherCpuPct: number;
}

/**
 * 200 CPU-bound tasks of ~50 ms (counting primes, no allocation) through a separate `taskpool-worker` process
 * with one sandbox per CPU, against the same 200 calls run serially in this process, side by side in one run.
 * A third side runs them in as many bare Node processes (no Redis, no supervisor): the machine's own ceiling.
 * Rounds run until three were quiet (other processes used under 5% of the CPU), at most four; the figures are
 * the medians of the quiet rounds. The CPU that the client, the worker's supervising process and Redis
 * spend during the pooled side is counted, as it is what keeps the pool below the ceiling.
 */
export async function cpuSpeedup(ctx: BenchContext): Promise<BenchResult> {
  const concurrency = availableParallelism();
  // Calibrating also warms this process's JIT up for the serial runs.
  const { limit, msPerCall } = calibrateLimit(TASK_MS);
  ctx.log(`countPrimesBelow(${limit}) takes ${msPerCall.toFixed(1)} ms; ${TASKS} tasks, ${concurrency} sandboxes, ${QUIET_ROUNDS} quiet rounds wanted`);
  const expected = countPrimesBelow(limit);

  const worker = await spawnWorker({ root: ctx.root, redisUrl: ctx.redisUrl, prefix: ctx.prefix, tasks: 'examples/tasks.ts', concurrency });
  const client = createClient({ redisUrl: ctx.redisUrl, prefix: ctx.prefix });
  const pids = { supervisor: [worker.pid], sandboxes: worker.sandboxPids(), redis: [ctx.redisPid] };
  const cpuNow = (): Round['cpu'] => ({
    client: clientCpuMs(),
    supervisor: cpuMsOf(pids.supervisor),
    sandboxes: cpuMsOf(pids.sandboxes),
    redis: cpuMsOf(pids.redis),
  });
  const rounds: Round[] = [];
  try {
    // Warm-up, not timed: the sandboxes' first calls pay for JIT compilation, the client's first submit
    // for its connections and its event listener; a pool that has been up for a while has paid for both.
    await runPooled(client, 4 * concurrency, limit, expected);

    for (let r = 0; rounds.filter(isQuiet).length < QUIET_ROUNDS && r < MAX_ROUNDS; r++) {
      const round: Round = { serialMs: 0, pooledMs: 0, bareMs: 0, cpu: cpuNow(), otherCpuPct: 0 };
      const roundStart = { wall: performance.now(), machine: machineBusyMs(), ours: ourCpuMs(pids) };
      for (const side of ORDERS[r % ORDERS.length]!) {
        if (side === 'serial') round.serialMs = runSerial(TASKS, limit, expected);
        if (side === 'bare') round.bareMs = await bareParallel(concurrency, TASKS, limit);
        if (side === 'pooled') {
          const before = cpuNow();
          round.pooledMs = await runPooled(client, TASKS, limit, expected);
          const after = cpuNow();
          round.cpu = {
            client: after.client - before.client,
            supervisor: after.supervisor - before.supervisor,
            sandboxes: after.sandboxes - before.sandboxes,
            redis: after.redis - before.redis,
          };
        }
      }
      const other = machineBusyMs() - roundStart.machine - (ourCpuMs(pids) - roundStart.ours);
      round.otherCpuPct = Math.max(0, (100 * other) / ((performance.now() - roundStart.wall) * concurrency));
      rounds.push(round);
      ctx.log(
        `round ${r + 1}: serial ${s(round.serialMs)}, pooled ${s(round.pooledMs)} (${ratio(round.serialMs, round.pooledMs)}), ` +
          `bare ${s(round.bareMs)} (${ratio(round.serialMs, round.bareMs)}); other processes used ${round.otherCpuPct.toFixed(1)}% of the CPU` +
          (isQuiet(round) ? '' : ' (noisy: left out of the figures if any round is quiet)'),
      );
    }
  } finally {
    await client.close();
    await worker.stop();
  }

  // Other processes' CPU use skews one side more than the other; use only the rounds without it, if any.
  const quiet = rounds.filter(isQuiet);
  const used = quiet.length > 0 ? quiet : rounds;
  const speedups = used.map((r) => r.serialMs / r.pooledMs);
  const bareSpeedups = used.map((r) => r.serialMs / r.bareMs);
  const med = (pick: (r: Round) => number): number => median(used.map(pick));
  const perTask = (pick: (r: Round) => number): number => round2(med(pick) / TASKS);
  const listed = rounds.map((r) => `${ratio(r.serialMs, r.pooledMs)} (bare ${ratio(r.serialMs, r.bareMs)}, other ${r.otherCpuPct.toFixed(1)}%)`);
  return {
    name: 'cpuSpeedup',
    figures: {
      tasks: TASKS,
      concurrency,
      limit,
      taskMs: round2(med((r) => r.serialMs) / TASKS),
      calibratedTaskMs: round2(msPerCall),
      rounds: rounds.length,
      quietRounds: quiet.length,
      serialMs: Math.round(med((r) => r.serialMs)),
      pooledMs: Math.round(med((r) => r.pooledMs)),
      bareMs: Math.round(med((r) => r.bareMs)),
      speedup: round3(median(speedups)),
      speedupMin: round3(Math.min(...speedups)),
      speedupMax: round3(Math.max(...speedups)),
      bareSpeedup: round3(median(bareSpeedups)),
      poolVsBare: round3(med((r) => r.bareMs / r.pooledMs)),
      sandboxBusyPct: round2(100 * med((r) => r.cpu.sandboxes / (r.pooledMs * concurrency))),
      clientCpuMsPerTask: perTask((r) => r.cpu.client),
      supervisorCpuMsPerTask: perTask((r) => r.cpu.supervisor),
      redisCpuMsPerTask: perTask((r) => r.cpu.redis),
      sandboxesCpuMsPerTask: perTask((r) => r.cpu.sandboxes),
      otherCpuPct: round2(med((r) => r.otherCpuPct)),
      otherCpuPctMax: round2(Math.max(...used.map((r) => r.otherCpuPct))),
    },
    notes:
      `Medians of the ${quiet.length > 0 ? `${quiet.length} quiet` : `${rounds.length} (all noisy)`} rounds; every round: ${listed.join('; ')}. ` +
      'taskMs is one call as timed by the serial side (calibratedTaskMs: by the calibration before, a lower limit if the machine was busy then). ' +
      'pooledMs runs from the first submit to the last result, after a warm-up of 4 tasks per sandbox; bareMs is the same ' +
      'calls split over as many bare Node processes (the machine\'s ceiling), poolVsBare = bareMs / pooledMs. ' +
      'sandboxBusyPct is the sandboxes\' CPU time over pooledMs x concurrency; the *CpuMsPerTask figures are the CPU the client ' +
      '(this process), the worker\'s supervising process and redis-server spend per task during the pooled side (10 ms ticks). ' +
      `otherCpuPct is the CPU that processes outside this benchmark used during a round; above ${NOISY_PCT}% a round is noisy. ` +
      'sandboxesCpuMsPerTask is the sandboxes\' CPU per task (the task itself and its share of the path). Target (issue #14): poolVsBare ≥ 0.97.',
  };
}

function isQuiet(round: Round): boolean {
  return round.otherCpuPct <= NOISY_PCT;
}

/** Submits `count` tasks at once; resolves with the wall time from the first submit to the last result. */
async function runPooled(client: TaskpoolClient, count: number, limit: number, expected: number): Promise<number> {
  const started = performance.now();
  const handles = await Promise.all(Array.from({ length: count }, () => client.submit(countPrimes, { limit })));
  const outputs = await Promise.all(handles.map((h) => h.result({ timeoutMs: RESULT_TIMEOUT_MS })));
  const ms = performance.now() - started;
  const wrong = outputs.filter((o) => o.count !== expected).length;
  if (wrong > 0) throw new Error(`${wrong} of ${count} pooled results differ from the serial count ${expected}`);
  return ms;
}

/** Runs `count` calls one after another here; returns the wall time. */
function runSerial(count: number, limit: number, expected: number): number {
  const started = performance.now();
  let total = 0;
  for (let i = 0; i < count; i++) total += countPrimesBelow(limit);
  const elapsed = performance.now() - started;
  // Using every result also keeps the calls from being optimised away.
  if (total !== count * expected) throw new Error(`Serial run counted ${total} primes, expected ${count * expected}`);
  return elapsed;
}

/** The CPU of every process this benchmark runs: itself (serial side and client), its exited children (bare side), the worker, Redis. */
function ourCpuMs(pids: { supervisor: number[]; sandboxes: number[]; redis: number[] }): number {
  const self = processUsage('self');
  return self.cpuMs + self.childrenCpuMs + cpuMsOf([...pids.supervisor, ...pids.sandboxes, ...pids.redis]);
}

function clientCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const ratio = (a: number, b: number): string => `${(a / b).toFixed(3)}x`;
