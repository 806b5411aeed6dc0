import type { ChaosWorkers } from './chaosWorkers.ts';
import type { Backend } from './redisBackend.ts';

/** The load of a run: how many tasks, how fast they are submitted, how long each takes, and who runs them. */
export interface Workload {
  /** Tasks at full scale (`CHAOS_SCALE` multiplies it). */
  tasks: number;
  /** Submits per second, paced evenly, so faults land while tasks are both arriving and running. */
  submitPerS: number;
  /** How long task `i` sleeps, ms. */
  taskMs(i: number): number;
  workers: number;
  /** Sandboxes per worker. */
  concurrency: number;
  /** Worker settings this scenario does not leave at their defaults (printed with the results). Default: none. */
  workerEnv?: Record<string, string>;
}

/** The targets a scenario is judged on, besides 0 lost, 0 wrong and 0 failed with attempts left (all of them). */
export interface ScenarioTargets {
  /** Every job running where the fault hit finished within this, s (the bound for a dead or cut-off worker). */
  recoveryS?: number;
  /** A cut-off worker's results that arrive after its jobs were finished elsewhere are dropped. */
  lateResultsDropped?: boolean;
}

/** A fault as it happened: when, what, and which sandbox processes it hit (all of them when `pids` is absent). */
export interface FaultRecord {
  kind: string;
  /** `Date.now()` when the fault began. */
  at: number;
  pids?: number[];
  /** When the fault was over (Redis answering again, the partition healed, the worker exited), if it lasts. */
  endedAt?: number;
}

/** What a scenario's `inject` gets to cause its faults. */
export interface FaultContext<B extends Backend> {
  backend: B;
  workers: ChaosWorkers;
  /** Resolves once this fraction of the tasks has been submitted. */
  submitted(fraction: number): Promise<void>;
  /** The fraction of the tasks submitted so far. */
  progress(): number;
  /** Records a fault beginning now; set `endedAt` on the record when it is over. */
  fault(kind: string, pids?: number[]): FaultRecord;
  /** Ids of the jobs whose handler is running now on these sandboxes (any, without `pids`), from the execution log. */
  running(pids?: number[]): string[];
  /** Resolves true once all these jobs have finished (completed or failed for good), false after `timeoutMs`. */
  finished(jobIds: string[], timeoutMs: number): Promise<boolean>;
  /** A seeded random number in [0, 1) (`CHAOS_SEED`), so a run's faults can be replayed. */
  random(): number;
  log(message: string): void;
}

/** One chaos scenario: its load, its Redis, and the faults it injects (a baseline run is the same without them). */
export interface Scenario<B extends Backend = Backend> {
  name: string;
  /** One line on the fault, for the report. */
  fault: string;
  workload: Workload;
  targets: ScenarioTargets;
  /** Why the scenario cannot run here, checked before anything starts; undefined if it can. */
  skipReason?(): Promise<string | undefined>;
  /** Starts the run's own Redis (or Redis set-up) with its data in `dir`. */
  startBackend(dir: string): Promise<B>;
  /** The Redis URL of the worker in `slot`. Default: `backend.url`. */
  workerUrl?(slot: number, backend: B): string;
  /** Causes the faults; resolves when the last one is over. */
  inject(ctx: FaultContext<B>): Promise<void>;
}
