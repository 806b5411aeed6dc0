import { CHAOS_ATTEMPTS, expectedDigest } from './chaosTasks.ts';
import type { Execution } from './executionLog.ts';
import type { JobObservation, RunObservation } from './runScenario.ts';
import type { FaultRecord } from './scenario.ts';

/** What became of the jobs running where one fault hit. */
export interface FaultRecovery {
  kind: string;
  /** When the fault began, s after the run started. */
  atS: number;
  /** How long the fault lasted (Redis down, partition, drain), s; absent for an instant one (a kill). */
  lastedS?: number;
  /** Jobs the fault hit (see {@link affectedJobs}): started on its sandboxes and not finished when it began. */
  affected: number;
  /** Fault → the client saw the first of them finish, s. */
  firstDoneS?: number;
  /** Fault → the client saw the last of them finish, s (the recovery time); null if some never finished. */
  allDoneS?: number | null;
  /** Of them, how many had not finished at the end. */
  neverFinished: number;
}

/** The figures of one run. */
export interface RunFigures {
  /** Tasks whose submit was acknowledged. */
  tasks: number;
  /** Tasks whose submit was never acknowledged (the client got an error each time, for 2 min). */
  rejectedSubmits: number;
  /** Submits retried (same idempotency key) after an error before they were acknowledged. */
  submitRetries: number;
  /** Acknowledged, but not completed or failed at the end. */
  lost: number;
  /** Of the lost: gone from Redis. */
  lostMissing: number;
  /** Completed with a result that is not its input's. */
  wrong: number;
  /** Jobs whose handler started more than once. */
  startedTwice: number;
  /** Jobs whose handler ran to its end more than once. */
  completedTwice: number;
  /** Jobs that failed for good. */
  failed: number;
  /** Of the failed: with attempts left (fewer than `CHAOS_ATTEMPTS` made). */
  failedWithAttemptsLeft: number;
  /** Failed jobs by failure reason. */
  failureReasons: Record<string, number>;
  /** First submit → the client had seen every job finish, s; null if some never did. */
  finishS: number | null;
  faults: FaultRecovery[];
  /** The worst `allDoneS` over the faults (null if some job hit never finished); absent if no fault hit a running job. */
  recoveryS?: number | null;
  /** Partitions only: jobs a cut-off worker ran to the end and another worker ran too, and whose kept result is the cut-off worker's. */
  lateResultsAccepted?: number;
  /** Partitions only: jobs a cut-off worker ran to the end while another worker ran them too (the results to drop). */
  lateResultsToDrop?: number;
}

/** Turns a run's observations into its figures. */
export function countOutcomes(run: RunObservation): RunFigures {
  const byJob = groupBy(run.executions, (e) => e.jobId);
  const starts = (id: string): number => byJob.get(id)?.filter((e) => e.mark === 'start').length ?? 0;
  const ends = (id: string): number => byJob.get(id)?.filter((e) => e.mark === 'end').length ?? 0;
  const failed = run.jobs.filter((job) => job.final?.state === 'failed');
  const failureReasons: Record<string, number> = {};
  for (const job of failed) failureReasons[job.final!.reason ?? 'unknown'] = (failureReasons[job.final!.reason ?? 'unknown'] ?? 0) + 1;
  const faults = run.faults.map((fault) => recoveryOf(fault, run));
  const hit = faults.filter((f) => f.affected > 0);
  const figures: RunFigures = {
    tasks: run.jobs.length,
    rejectedSubmits: run.rejectedSubmits,
    submitRetries: run.jobs.reduce((sum, job) => sum + job.submitRetries, 0),
    lost: run.jobs.filter((job) => !isFinished(job)).length,
    lostMissing: run.jobs.filter((job) => job.final === undefined).length,
    wrong: run.jobs.filter((job) => job.final?.state === 'completed' && !isRightResult(job)).length,
    startedTwice: run.jobs.filter((job) => starts(job.jobId) > 1).length,
    completedTwice: run.jobs.filter((job) => ends(job.jobId) > 1).length,
    failed: failed.length,
    failedWithAttemptsLeft: failed.filter((job) => job.final!.attempts < CHAOS_ATTEMPTS).length,
    failureReasons,
    finishS: run.allSettledAt === undefined ? null : round1((run.allSettledAt - run.startedAt) / 1000),
    faults,
  };
  if (hit.length > 0) figures.recoveryS = hit.some((f) => f.allDoneS === null) ? null : Math.max(...hit.map((f) => f.allDoneS!));
  const partitions = run.faults.filter((f) => f.kind === 'partition');
  if (partitions.length > 0) Object.assign(figures, lateResults(partitions, run, byJob));
  return figures;
}

/** The jobs a fault hit, and when they finished. */
function recoveryOf(fault: FaultRecord, run: RunObservation): FaultRecovery {
  const affected = affectedJobs(fault, run);
  // When the client saw them finish: a worker's `finishedOn` is taken before the write, which may wait out a Redis outage.
  const done = affected.filter((job) => isFinished(job) && job.settledAt !== undefined).map((job) => job.settledAt!);
  const recovery: FaultRecovery = {
    kind: fault.kind,
    atS: round1((fault.at - run.startedAt) / 1000),
    ...(fault.endedAt !== undefined && { lastedS: round1((fault.endedAt - fault.at) / 1000) }),
    affected: affected.length,
    neverFinished: affected.length - done.length,
  };
  if (done.length > 0) recovery.firstDoneS = round1((Math.min(...done) - fault.at) / 1000);
  if (affected.length > 0) recovery.allDoneS = done.length < affected.length ? null : round1((Math.max(...done) - fault.at) / 1000);
  return recovery;
}

/**
 * The jobs a fault hit: those whose latest start before it was on one of its sandboxes (any sandbox, without
 * `pids`), and that had not finished when it began: neither seen finished by the client nor finished for good
 * with an outcome the worker had before the fault (`finishedOn`: a job whose kept outcome predates the fault
 * lost nothing to it). A handler that had ended but whose result had not reached Redis counts: its job is
 * still to be finished.
 */
export function affectedJobs(fault: FaultRecord, run: RunObservation): JobObservation[] {
  const byId = new Map(run.jobs.map((job) => [job.jobId, job]));
  const latestStart = new Map<string, Execution>();
  for (const e of run.executions) {
    if (e.mark !== 'start' || e.at > fault.at) continue;
    const seen = latestStart.get(e.jobId);
    if (!seen || seen.at <= e.at) latestStart.set(e.jobId, e);
  }
  const pids = fault.pids && new Set(fault.pids);
  const affected: JobObservation[] = [];
  for (const [jobId, start] of latestStart) {
    const job = byId.get(jobId);
    if (!job || (pids && !pids.has(start.pid))) continue;
    const before = (at: number | undefined): boolean => at !== undefined && at <= fault.at;
    if (!before(job.settledAt) && !(isFinished(job) && before(job.final!.finishedAt))) affected.push(job);
  }
  return affected;
}

function lateResults(partitions: FaultRecord[], run: RunObservation, byJob: Map<string, Execution[]>): Pick<RunFigures, 'lateResultsAccepted' | 'lateResultsToDrop'> {
  let toDrop = 0;
  let accepted = 0;
  for (const fault of partitions) {
    const cutOff = new Set(fault.pids ?? []);
    for (const job of affectedJobs(fault, run)) {
      const ends = (byJob.get(job.jobId) ?? []).filter((e) => e.mark === 'end');
      const endedCutOff = ends.some((e) => cutOff.has(e.pid));
      const endedElsewhere = ends.some((e) => !cutOff.has(e.pid) && e.at > fault.at);
      if (!endedCutOff || !endedElsewhere) continue;
      toDrop++;
      const keptPid = (job.final?.result as { pid?: number } | undefined)?.pid;
      if (keptPid !== undefined && cutOff.has(keptPid)) accepted++;
    }
  }
  return { lateResultsAccepted: accepted, lateResultsToDrop: toDrop };
}

/** Completed or failed for good at the end. */
function isFinished(job: JobObservation): boolean {
  return job.final?.state === 'completed' || job.final?.state === 'failed';
}

function isRightResult(job: JobObservation): boolean {
  const result = job.final?.result as { i?: unknown; digest?: unknown } | undefined;
  return result?.i === job.i && result.digest === expectedDigest(job.i);
}

function groupBy<T>(items: T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}

const round1 = (n: number): number => Math.round(n * 10) / 10;
