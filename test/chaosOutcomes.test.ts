import { describe, expect, it } from 'vitest';
import { expectedDigest } from '../chaos/chaosTasks.ts';
import { countOutcomes } from '../chaos/countOutcomes.ts';
import type { Execution } from '../chaos/executionLog.ts';
import type { JobObservation, RunObservation } from '../chaos/runScenario.ts';
import type { FaultRecord } from '../chaos/scenario.ts';

// The chaos suite's counting (`npm run chaos`), on a made-up run: no Redis, no processes.
const T0 = 1_000_000;

function job(i: number, final: JobObservation['final'], settledAt?: number): JobObservation {
  return { i, jobId: `j${i}`, submitRetries: 0, acknowledgedAt: T0, ...(settledAt !== undefined && { settledAt }), ...(final && { final }) };
}
const done = (i: number, pid: number) => ({ state: 'completed' as const, attempts: 1, result: { i, digest: expectedDigest(i), pid } });
const exec = (mark: Execution['mark'], at: number, pid: number, i: number, attempt = 1): Execution => ({ mark, at: T0 + at, pid, jobId: `j${i}`, attempt, i });

function run(jobs: JobObservation[], executions: Execution[], faults: FaultRecord[] = []): RunObservation {
  return { scenario: 'test', faulted: true, startedAt: T0, submitsDoneAt: T0 + 1_000, allSettledAt: T0 + 9_000, jobs, rejectedSubmits: 0, executions, faults, workerEvents: {} };
}

describe('countOutcomes', () => {
  it('counts lost, wrong, duplicates and failures with attempts left', () => {
    const jobs = [
      job(0, done(0, 10), T0 + 500),
      job(1, { state: 'completed', attempts: 1, result: { i: 1, digest: 'forged', pid: 10 } }, T0 + 500),
      job(2, undefined, T0 + 600), // gone from Redis
      job(3, { state: 'active', attempts: 0 }), // never finished
      job(4, { state: 'failed', attempts: 2, reason: 'stalled' }, T0 + 700),
      job(5, { state: 'failed', attempts: 5, reason: 'killed' }, T0 + 800),
    ];
    const executions = [exec('start', 0, 10, 0), exec('end', 100, 10, 0), exec('start', 200, 11, 0, 2), exec('end', 300, 11, 0, 2), exec('start', 0, 10, 4)];
    const figures = countOutcomes(run(jobs, executions));
    expect(figures).toMatchObject({
      tasks: 6,
      lost: 2,
      lostMissing: 1,
      wrong: 1,
      startedTwice: 1,
      completedTwice: 1,
      failed: 2,
      failedWithAttemptsLeft: 1,
      failureReasons: { stalled: 1, killed: 1 },
      finishS: 9,
    });
    expect(figures.recoveryS).toBeUndefined();
  });

  it('measures recovery over the jobs a fault hit, as the client saw them finish', () => {
    const jobs = [
      job(0, done(0, 21), T0 + 4_000),
      job(1, done(1, 21), T0 + 7_000),
      job(2, done(2, 30), T0 + 1_500),
      job(3, done(3, 20), T0 + 900),
      // Finished (by its worker's clock) before the fault, seen by the client only after it: not hit.
      job(4, { ...done(4, 20), finishedAt: T0 + 950 }, T0 + 1_200),
    ];
    const executions = [
      exec('start', 100, 20, 0), // hit: on the killed sandbox, not finished
      exec('start', 200, 20, 1),
      exec('end', 300, 20, 1), // hit too: its handler ended but its result had not reached Redis
      exec('start', 500, 30, 2), // another sandbox: not hit
      exec('start', 100, 20, 3),
      exec('end', 800, 20, 3), // finished before the fault: not hit
      exec('start', 100, 20, 4),
      exec('end', 900, 20, 4),
      exec('start', 2_000, 21, 0, 2),
      exec('start', 2_000, 21, 1, 2),
    ];
    const fault: FaultRecord = { kind: 'kill -9 worker', at: T0 + 1_000, pids: [20] };
    const figures = countOutcomes(run(jobs, executions, [fault]));
    expect(figures.faults).toEqual([{ kind: 'kill -9 worker', atS: 1, affected: 2, neverFinished: 0, firstDoneS: 3, allDoneS: 6 }]);
    expect(figures.recoveryS).toBe(6);
  });

  it('says when a job a fault hit never finished', () => {
    const jobs = [job(0, { state: 'waiting', attempts: 1 })];
    const figures = countOutcomes(run(jobs, [exec('start', 0, 20, 0)], [{ kind: 'kill -9 worker', at: T0 + 100, pids: [20] }]));
    expect(figures.recoveryS).toBeNull();
    expect(figures.faults[0]).toMatchObject({ affected: 1, neverFinished: 1, allDoneS: null });
  });

  it('counts a cut-off worker\'s late result kept where another worker also ran the job', () => {
    const jobs = [job(0, done(0, 20), T0 + 5_000), job(1, done(1, 30), T0 + 5_000), job(2, done(2, 20), T0 + 5_000)];
    const executions = [
      exec('start', 0, 20, 0),
      exec('end', 400, 20, 0), // ended on the cut-off worker...
      exec('start', 3_000, 30, 0, 2),
      exec('end', 3_300, 30, 0, 2), // ...and elsewhere; the kept result is the cut-off worker's: accepted
      exec('start', 0, 20, 1),
      exec('end', 400, 20, 1),
      exec('start', 3_000, 30, 1, 2),
      exec('end', 3_300, 30, 1, 2), // the same, but the kept result is the other worker's: dropped
      exec('start', 0, 20, 2),
      exec('end', 400, 20, 2), // only the cut-off worker ran it: its result is the only one
    ];
    const figures = countOutcomes(run(jobs, executions, [{ kind: 'partition', at: T0 + 100, pids: [20], endedAt: T0 + 4_000 }]));
    expect(figures.lateResultsToDrop).toBe(2);
    expect(figures.lateResultsAccepted).toBe(1);
    expect(figures.faults[0]).toMatchObject({ affected: 3, lastedS: 3.9 });
  });
});
