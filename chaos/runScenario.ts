import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { createClient, type JobState, type TaskHandle, type TaskpoolClient } from '@taskpool/core';
import { eventually, isAlive } from '../test/helpers/spawnService.ts';
import { chaosWork } from './chaosTasks.ts';
import { ChaosWorkers, type EventCounts } from './chaosWorkers.ts';
import { readExecutionLog, type Execution } from './executionLog.ts';
import { seededRandom } from './seededRandom.ts';
import type { FaultContext, FaultRecord, Scenario } from './scenario.ts';
import type { Backend } from './redisBackend.ts';

/** How a run is done. */
export interface RunOptions {
  /** Inject the scenario's faults (false: the baseline run). */
  faulted: boolean;
  /** Multiplies the workload's task count (`--quick`, `CHAOS_SCALE`). */
  scale: number;
  seed: number;
  /** How long to wait, after the last submit and the last fault, for every job to finish, s. */
  settleS: number;
  log(message: string): void;
}

/** A job as the run saw it: when it was submitted, when the client saw it finish, and how Redis has it at the end. */
export interface JobObservation {
  i: number;
  jobId: string;
  /** Rejected submits before this one was acknowledged (each retried with the same idempotency key). */
  submitRetries: number;
  acknowledgedAt: number;
  /** When `handle.settled()` resolved in the client. */
  settledAt?: number;
  /** The job in Redis at the end (after the settle wait and a quiet period); undefined if it is gone. */
  final?: FinalJob;
}

/** A job's state at the end of a run. */
export interface FinalJob {
  state: JobState;
  attempts: number;
  /** `finishedOn`: when the worker that finished it had its outcome (taken before the write, which may wait out an outage). */
  finishedAt?: number;
  result?: unknown;
  /** The failure reason of a failed job (`stalled`, `killed`, `quarantined`...). */
  reason?: string;
}

/** Everything one run observed; `countOutcomes` turns it into figures. */
export interface RunObservation {
  scenario: string;
  faulted: boolean;
  startedAt: number;
  submitsDoneAt: number;
  /** When the client had seen every acknowledged job finish; undefined if the settle wait ran out first. */
  allSettledAt?: number;
  jobs: JobObservation[];
  /** Tasks whose submit was never acknowledged (retried for {@link SUBMIT_GIVE_UP_MS}). */
  rejectedSubmits: number;
  executions: Execution[];
  faults: FaultRecord[];
  workerEvents: EventCounts;
}

const PREFIX = 'chaos';
const TASKS_MODULE = 'chaos/chaosTasks.ts';
/** Submits in flight at once, at most (a submit waits this long only while Redis is away). */
const MAX_SUBMITS_IN_FLIGHT = 64;
const SUBMIT_RETRY_MS = 250;
const SUBMIT_GIVE_UP_MS = 120_000;
/** After every job has settled, wait this long before reading them, so late writes (a healed partition) land first. */
const QUIET_MS = 2_000;
const READ_BATCH = 32;

/**
 * One run of a scenario: starts its own Redis and workers, submits the workload at a steady pace (retrying
 * a rejected submit with the same idempotency key, as a user should), injects the faults (unless this is the
 * baseline), waits for every job to finish, reads every job back from Redis and the execution log, and stops
 * everything it started.
 */
export async function runScenario<B extends Backend>(scenario: Scenario<B>, options: RunOptions): Promise<RunObservation> {
  const { workload } = scenario;
  const dir = await mkdtemp(join(tmpdir(), `taskpool-chaos-${scenario.name}-`));
  const logFile = join(dir, 'executions.log');
  const backend = await scenario.startBackend(join(dir, 'redis'));
  const workers = new ChaosWorkers({
    redisUrl: (slot) => scenario.workerUrl?.(slot, backend) ?? backend.url,
    prefix: PREFIX,
    tasks: TASKS_MODULE,
    concurrency: workload.concurrency,
    env: { ...workload.workerEnv, CHAOS_LOG_FILE: logFile },
  });
  let client: TaskpoolClient | undefined;
  try {
    await workers.start(workload.workers);
    client = createClient({ redisUrl: backend.url, prefix: PREFIX });
    const run = new ScenarioRun(client, Math.max(1, Math.round(workload.tasks * options.scale)), workload.taskMs, options.log);
    const faults: FaultRecord[] = [];
    const ctx: FaultContext<B> = {
      backend,
      workers,
      submitted: (fraction) => run.submitted(fraction),
      progress: () => run.progress(),
      fault(kind, pids) {
        const record: FaultRecord = { kind, at: Date.now(), ...(pids && { pids }) };
        faults.push(record);
        options.log(`  ${kind}${pids ? ` (sandboxes ${pids.join(', ')})` : ''} at ${((record.at - run.startedAt) / 1000).toFixed(1)} s`);
        return record;
      },
      running: (pids) => runningJobs(readExecutionLog(logFile), pids),
      finished: (jobIds, timeoutMs) => run.finished(jobIds, timeoutMs),
      random: seededRandom(options.seed, scenario.name),
      log: options.log,
    };
    const submitting = run.submitAll(workload.submitPerS);
    const injecting = options.faulted ? scenario.inject(ctx) : Promise.resolve();
    // Both run to their end; a failed fault is the run's error, after the submits are done with.
    const [submits, injected] = await Promise.allSettled([submitting, injecting]);
    if (submits.status === 'rejected') throw submits.reason;
    if (injected.status === 'rejected') throw injected.reason;
    const submitsDoneAt = run.submitsDoneAt;
    const allSettledAt = await run.settle(options.settleS * 1_000);
    await delay(QUIET_MS);
    const jobs = await run.readFinal();
    return {
      scenario: scenario.name,
      faulted: options.faulted,
      startedAt: run.startedAt,
      submitsDoneAt,
      ...(allSettledAt !== undefined && { allSettledAt }),
      jobs,
      rejectedSubmits: run.rejected,
      executions: readExecutionLog(logFile),
      faults,
      workerEvents: workers.eventCounts(),
    };
  } finally {
    await client?.close();
    await workers.stopAll(readExecutionLog(logFile).map((e) => e.pid));
    await backend.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Jobs whose handler has started and not ended on a sandbox that still runs (on `pids` only, if given). */
export function runningJobs(executions: Execution[], pids?: number[]): string[] {
  const open = new Map<string, Execution>();
  const key = (e: Execution): string => `${e.pid} ${e.jobId} ${e.attempt}`;
  for (const e of executions) {
    if (e.mark === 'start') open.set(key(e), e);
    else open.delete(key(e));
  }
  const wanted = pids && new Set(pids);
  const ids = [...open.values()].filter((e) => (wanted ? wanted.has(e.pid) : true) && isAlive(e.pid)).map((e) => e.jobId);
  return [...new Set(ids)];
}

/** The submits and waits of one run, with what it has seen of each job. */
class ScenarioRun {
  readonly startedAt = Date.now();
  submitsDoneAt = 0;
  rejected = 0;
  readonly #jobs: JobObservation[] = [];
  readonly #byId = new Map<string, JobObservation>();
  readonly #handles: TaskHandle<unknown>[] = [];
  #done = 0;

  constructor(
    private readonly client: TaskpoolClient,
    private readonly tasks: number,
    private readonly taskMs: (i: number) => number,
    private readonly log: (message: string) => void,
  ) {}

  /** Submits task 0, 1, ... at `perS` a second, at most {@link MAX_SUBMITS_IN_FLIGHT} waiting for Redis at once. */
  async submitAll(perS: number): Promise<void> {
    const key = randomBytes(4).toString('hex');
    const inFlight = new Set<Promise<void>>();
    for (let i = 0; i < this.tasks; i++) {
      const due = this.startedAt + (i * 1_000) / perS;
      if (due > Date.now()) await delay(due - Date.now());
      while (inFlight.size >= MAX_SUBMITS_IN_FLIGHT) await Promise.race(inFlight);
      const submit = this.#submit(i, `${key}-${i}`).finally(() => inFlight.delete(submit));
      inFlight.add(submit);
    }
    await Promise.all(inFlight);
    this.submitsDoneAt = Date.now();
    this.log(`  ${this.#jobs.length} submits acknowledged in ${((this.submitsDoneAt - this.startedAt) / 1000).toFixed(1)} s${this.rejected ? `, ${this.rejected} given up` : ''}`);
  }

  /** Resolves once `fraction` of the tasks have been submitted (acknowledged or given up). */
  submitted(fraction: number): Promise<void> {
    const target = Math.ceil(fraction * this.tasks);
    return eventually(() => this.#done >= target, `${target} submits`, SUBMIT_GIVE_UP_MS * 2, 20);
  }

  /** The fraction of the tasks submitted so far (acknowledged or given up). */
  progress(): number {
    return this.#done / this.tasks;
  }

  /** Resolves true once every one of these jobs has settled in the client, false after `timeoutMs`. */
  async finished(jobIds: string[], timeoutMs: number): Promise<boolean> {
    const all = (): boolean => jobIds.every((id) => this.#byId.get(id)?.settledAt !== undefined);
    return eventually(all, 'jobs to finish', timeoutMs, 50).then(
      () => true,
      () => false,
    );
  }

  /** Waits up to `timeoutMs` for every acknowledged job to settle; returns when the last one did, if they all did. */
  async settle(timeoutMs: number): Promise<number | undefined> {
    const all = (): boolean => this.#jobs.every((job) => job.settledAt !== undefined);
    const settled = await eventually(all, 'every job to finish', timeoutMs, 50).then(() => true, () => false);
    if (!settled) {
      const left = this.#jobs.filter((job) => job.settledAt === undefined).length;
      this.log(`  ${left} jobs still not finished after ${timeoutMs / 1000} s`);
      return undefined;
    }
    return Math.max(this.startedAt, ...this.#jobs.map((job) => job.settledAt!));
  }

  /** Reads every acknowledged job back from Redis. */
  async readFinal(): Promise<JobObservation[]> {
    for (let at = 0; at < this.#handles.length; at += READ_BATCH) {
      const batch = this.#handles.slice(at, at + READ_BATCH);
      const views = await Promise.all(batch.map((handle) => handle.status()));
      views.forEach((view, k) => {
        if (!view) return;
        const job = this.#jobs[at + k]!;
        job.final = {
          state: view.state,
          attempts: view.attempts,
          ...(view.finishedAt !== undefined && { finishedAt: view.finishedAt }),
          ...(view.result !== undefined && { result: view.result }),
          ...(view.error?.reason !== undefined && { reason: view.error.reason }),
        };
      });
    }
    return [...this.#jobs].sort((a, b) => a.i - b.i);
  }

  async #submit(i: number, idempotencyKey: string): Promise<void> {
    const giveUpAt = Date.now() + SUBMIT_GIVE_UP_MS;
    for (let retries = 0; ; retries++) {
      try {
        const handle = await this.client.submit(chaosWork, { i, ms: this.taskMs(i) }, { idempotencyKey });
        const job: JobObservation = { i, jobId: handle.id, submitRetries: retries, acknowledgedAt: Date.now() };
        this.#jobs.push(job);
        this.#handles.push(handle);
        this.#byId.set(handle.id, job);
        void handle.settled().then(
          () => (job.settledAt ??= Date.now()),
          () => undefined, // the client was closed first: the job did not settle
        );
        break;
      } catch {
        if (Date.now() > giveUpAt) {
          this.rejected++;
          break;
        }
        await delay(SUBMIT_RETRY_MS);
      }
    }
    this.#done++;
  }
}
