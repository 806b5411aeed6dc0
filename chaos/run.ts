/**
 * `npm run chaos`: runs each fault scenario against real processes (its own redis-server on a free 127.0.0.1
 * port, never 6379, `taskpool-worker` processes as the repo runs them, a client in this process), once without
 * faults (the baseline) and once with them, and prints one table: tasks, lost, wrong, started and completed
 * twice, failed, recovery and finish times, with ✔/✘ per target. Writes the run, with the machine, to
 * `chaos/results/latest.json` and `latest.md` (a full run at scale 1), else `partial.*`.
 *
 * `CHAOS_ONLY=killSoak,partition` picks scenarios; `--quick` runs a quarter of the tasks (`CHAOS_SCALE=0.5`
 * any share); `CHAOS_SEED` replays the kill soak's random choices; `CHAOS_SETTLE_S` (default 180) bounds the
 * wait for the last jobs after the faults. RELIABILITY.md says what each column means.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { workerEnvSchema } from '../apps/worker/src/env.ts';
import { describeMachine } from '../bench/describeMachine.ts';
import { formatChaosReport, type ChaosRun, type ScenarioReport } from './chaosReport.ts';
import { countOutcomes } from './countOutcomes.ts';
import { runScenario, type RunOptions } from './runScenario.ts';
import type { Scenario } from './scenario.ts';
import { killSoak } from './scenarios/killSoak.ts';
import { partition } from './scenarios/partition.ts';
import { redisKill } from './scenarios/redisKill.ts';
import { sentinelFailover } from './scenarios/sentinelFailover.ts';
import { sigtermDrain } from './scenarios/sigtermDrain.ts';
import { loadChaosEnv } from './env.ts';

const SCENARIOS: Scenario[] = [killSoak, redisKill('everysec'), redisKill('always'), partition, sentinelFailover, sigtermDrain];

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const QUICK_SCALE = 0.25;
const LINGER_MS = 5_000;

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const env = loadChaosEnv();
  const scale = env.CHAOS_SCALE ?? (quick ? QUICK_SCALE : 1);
  const { CHAOS_SEED: seed, CHAOS_SETTLE_S: settleS, CHAOS_ONLY: only } = env;
  const known = SCENARIOS.map((s) => s.name);
  const unknown = only?.filter((name) => !known.includes(name)) ?? [];
  if (unknown.length > 0) throw new Error(`Unknown scenario(s) ${unknown.join(', ')}; known: ${known.join(', ')}`);
  const selected = SCENARIOS.filter((s) => !only || only.includes(s.name));

  const log = (message: string): void => void process.stderr.write(`${message}\n`);
  const started = performance.now();
  const machine = describeMachine();
  const loadAverage = loadavg().map((n) => Math.round(n * 100) / 100);
  log(`${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}; load average ${loadAverage.join(' ')}; scale ${scale}, seed ${seed}`);

  const reports: ScenarioReport[] = [];
  for (const scenario of selected) {
    log(`\n${scenario.name}: ${scenario.fault}`);
    reports.push(await runBoth(scenario, { scale, seed, settleS, log }));
  }

  const command = [only && `CHAOS_ONLY=${only.join(',')}`, env.CHAOS_SCALE !== undefined && `CHAOS_SCALE=${scale}`, seed !== 1 && `CHAOS_SEED=${seed}`, 'npm run chaos', quick && '-- --quick']
    .filter(Boolean)
    .join(' ');
  const run: ChaosRun = {
    date: new Date().toISOString(),
    command,
    machine,
    loadAverageAtStart: loadAverage,
    durationS: Math.round((performance.now() - started) / 1000),
    seed,
    scale,
    workerDefaults: workerDefaults(),
    scenarios: reports,
  };
  const markdown = formatChaosReport(run);
  console.log(`\n${markdown}`);
  // Only a full run replaces `latest`, so RELIABILITY.md's figures always come from one run of everything.
  const file = only || scale !== 1 ? 'partial' : 'latest';
  await mkdir(RESULTS_DIR, { recursive: true });
  await writeFile(join(RESULTS_DIR, `${file}.json`), `${JSON.stringify(run, null, 2)}\n`);
  await writeFile(join(RESULTS_DIR, `${file}.md`), `# Chaos: ${command}\n\n${markdown}`);
  log(`Wrote chaos/results/${file}.json and ${file}.md (${run.durationS} s).`);
}

/** The baseline run, then the faulted one; a scenario that cannot run, or throws, is reported as such. */
async function runBoth(scenario: Scenario, options: Omit<RunOptions, 'faulted'>): Promise<ScenarioReport> {
  const w = scenario.workload;
  const durations = Array.from({ length: w.tasks }, (_, i) => w.taskMs(i));
  const report: ScenarioReport = {
    name: scenario.name,
    fault: scenario.fault,
    workload: {
      tasks: Math.max(1, Math.round(w.tasks * options.scale)),
      submitPerS: w.submitPerS,
      workers: w.workers,
      concurrency: w.concurrency,
      taskMs: `${Math.min(...durations)}-${Math.max(...durations)}`,
      workerEnv: w.workerEnv ?? {},
    },
    targets: scenario.targets,
  };
  const skipped = await scenario.skipReason?.();
  if (skipped) {
    options.log(`  skipped: ${skipped}`);
    return { ...report, skipped };
  }
  try {
    options.log('  baseline (no faults)');
    report.baseline = countOutcomes(await runScenario(scenario, { ...options, faulted: false }));
    options.log(`  finished in ${report.baseline.finishS} s; with faults`);
    const faulted = await runScenario(scenario, { ...options, faulted: true });
    report.faulted = countOutcomes(faulted);
    report.workerEvents = faulted.workerEvents;
    options.log(`  finished in ${report.faulted.finishS ?? 'never'} s; lost ${report.faulted.lost}, recovery ${report.faulted.recoveryS ?? '—'} s`);
  } catch (error) {
    report.error = error instanceof Error ? error.message : String(error);
    options.log(`  error: ${report.error}`);
  }
  return report;
}

/** This checkout's defaults of the worker settings the scenarios are about: lock, stalled check, shutdown grace. */
function workerDefaults(): Record<string, unknown> {
  const defaults = workerEnvSchema.parse({}) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(defaults).filter(([key]) => /LOCK|STALL|GRACE/.test(key)));
}

// Ctrl-C or a kill: exit through 'exit', whose handlers kill the workers and redis-servers this run started.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => {
    // Everything the run started is stopped by now; a process still alive after this has a connection that
    // outlived its close(): say so, and do not hang the suite for it.
    setTimeout(() => {
      console.error(`chaos: handles still open ${LINGER_MS / 1000} s after the run (a Redis connection that outlived close()?); exiting`);
      process.exit(process.exitCode ?? 0);
    }, LINGER_MS).unref();
  });
