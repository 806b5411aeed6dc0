import type { Machine } from '../bench/describeMachine.ts';
import type { RunFigures } from './countOutcomes.ts';
import type { EventCounts } from './chaosWorkers.ts';
import type { ScenarioTargets } from './scenario.ts';

/** One scenario of a `npm run chaos`: its set-up, and the figures of its baseline and faulted runs. */
export interface ScenarioReport {
  name: string;
  fault: string;
  workload: {
    tasks: number;
    submitPerS: number;
    workers: number;
    concurrency: number;
    taskMs: string;
    workerEnv: Record<string, string>;
  };
  targets: ScenarioTargets;
  /** Why it did not run. */
  skipped?: string;
  /** What stopped it, if a run threw. */
  error?: string;
  baseline?: RunFigures;
  faulted?: RunFigures;
  /** Worker log events of the faulted run, by name. */
  workerEvents?: EventCounts;
}

/** One `npm run chaos`. */
export interface ChaosRun {
  date: string;
  command: string;
  machine: Machine;
  loadAverageAtStart: number[];
  durationS: number;
  seed: number;
  scale: number;
  /** The worker's lock, stalled-check and shutdown settings, as this checkout's defaults (scenarios may override). */
  workerDefaults: Record<string, unknown>;
  scenarios: ScenarioReport[];
}

const YES = '✔';
const NO = '✘';

/** The run as Markdown: the machine, one table of every scenario (✔/✘ per target), then what each row ran. */
export function formatChaosReport(run: ChaosRun): string {
  const m = run.machine;
  const lines = [
    `\`${run.command}\` on ${run.date} (${run.durationS} s, seed ${run.seed}, scale ${run.scale}).`,
    '',
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.totalMemoryGiB} GiB, ${m.platform}, Node ${m.node}; ` +
      `load average at start ${run.loadAverageAtStart.join(' ')}. Worker defaults: ${Object.entries(run.workerDefaults).map(([k, v]) => `${k}=${String(v)}`).join(', ')}.`,
    '',
    '| scenario | tasks | lost | wrong | started twice | completed twice | failed (with attempts left) | recovery s | late results kept | finish s (no faults) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...run.scenarios.map(tableRow),
    '',
    'Targets: 0 lost, 0 wrong, 0 failed with attempts left; recovery ≤ the bound where one is given; ' +
      'a cut-off worker\'s late results dropped. Duplicates are counted, not judged: delivery is at least once.',
    '',
  ];
  for (const s of run.scenarios) lines.push(`- **${s.name}**: ${describeScenario(s)}`);
  return `${lines.join('\n')}\n`;
}

function tableRow(s: ScenarioReport): string {
  const f = s.faulted;
  if (!f) return `| ${s.name} | ${s.skipped ? `skipped: ${s.skipped}` : `error: ${oneLine(s.error ?? 'unknown')}`} | | | | | | | | |`;
  const zero = (n: number): string => `${n} ${n === 0 ? YES : NO}`;
  const failed = `${f.failed} (${f.failedWithAttemptsLeft}) ${f.failedWithAttemptsLeft === 0 ? YES : NO}`;
  const late = s.targets.lateResultsDropped ? zero(f.lateResultsAccepted ?? 0) : '—';
  const finish = `${f.finishS ?? 'never'} (${s.baseline?.finishS ?? '?'})`;
  return `| ${s.name} | ${f.tasks} | ${zero(f.lost)} | ${zero(f.wrong)} | ${f.startedTwice} | ${f.completedTwice} | ${failed} | ${recoveryCell(f, s.targets)} | ${late} | ${finish} |`;
}

function recoveryCell(f: RunFigures, targets: ScenarioTargets): string {
  if (f.recoveryS === undefined) return '—';
  const bound = targets.recoveryS;
  if (f.recoveryS === null) {
    const never = f.faults.reduce((sum, fault) => sum + fault.neverFinished, 0);
    return `never (${never} jobs)${bound === undefined ? '' : ` ${NO}`}`;
  }
  return bound === undefined ? String(f.recoveryS) : `${f.recoveryS} ${f.recoveryS <= bound ? YES : NO} (≤ ${bound})`;
}

function describeScenario(s: ScenarioReport): string {
  const w = s.workload;
  const env = Object.entries(w.workerEnv).map(([k, v]) => `${k}=${v}`);
  const parts = [
    `${s.fault}.`,
    `${w.tasks} tasks of ${w.taskMs} ms submitted at ${w.submitPerS}/s to ${w.workers} workers × ${w.concurrency} sandboxes${env.length ? ` (${env.join(', ')})` : ' (worker defaults)'}.`,
  ];
  if (s.skipped) parts.push(`Skipped: ${s.skipped}.`);
  if (s.error) parts.push(`Error: ${oneLine(s.error)}.`);
  const f = s.faulted;
  if (f) {
    const hit = f.faults.filter((fault) => fault.affected > 0);
    const kinds = countBy(f.faults.map((fault) => fault.kind));
    parts.push(`Faults: ${Object.entries(kinds).map(([k, n]) => `${n} × ${k}`).join(', ') || 'none'}; ${hit.length} hit running jobs (${hit.reduce((n, x) => n + x.affected, 0)} jobs).`);
    const slow = hit.filter((fault) => fault.allDoneS !== undefined).sort((a, b) => (b.allDoneS ?? Infinity) - (a.allDoneS ?? Infinity))[0];
    if (slow) parts.push(`Slowest: ${slow.kind} at ${slow.atS} s${slow.lastedS !== undefined ? ` (lasted ${slow.lastedS} s)` : ''}, ${slow.affected} jobs, first done after ${slow.firstDoneS ?? '—'} s, all after ${slow.allDoneS ?? 'never'} s.`);
    if (f.failed > 0) parts.push(`Failed by reason: ${Object.entries(f.failureReasons).map(([k, n]) => `${k} ${n}`).join(', ')}.`);
    if (f.lost > 0) parts.push(`Lost: ${f.lostMissing} gone from Redis, ${f.lost - f.lostMissing} never finished.`);
    if (f.submitRetries > 0 || f.rejectedSubmits > 0) parts.push(`Submits retried ${f.submitRetries} times (same idempotency key); ${f.rejectedSubmits} never acknowledged.`);
    if (f.lateResultsToDrop !== undefined) parts.push(`Late results: ${f.lateResultsToDrop} jobs ran to the end on both sides, ${f.lateResultsAccepted} kept the cut-off worker's result.`);
    const events = Object.entries(s.workerEvents ?? {}).map(([k, n]) => `${k} ${n}`);
    if (events.length) parts.push(`Worker log: ${events.join(', ')}.`);
  }
  return parts.join(' ');
}

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}

const oneLine = (text: string): string => text.split('\n')[0]!.replaceAll('|', '\\|').slice(0, 200);
