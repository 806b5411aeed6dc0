/** What `startWorker` takes and gives back: its options with their defaults, and the running worker. */
import type { Logger } from 'pino';
import type { ObjectOptions } from '../objects/objectAccess.ts';

/** Options of `startWorker`. */
export interface StartWorkerOptions {
  /** As `ClientOptions.redisUrl` (a `redis-cluster://` address for a Redis Cluster, with a hash-tagged prefix). */
  redisUrl: string;
  /** Path of the task module (every exported `defineTask` is served). */
  tasksModule: string;
  logger: Logger;
  /** BullMQ key prefix. Default: `'taskpool'`. */
  prefix?: string;
  /** Sandbox processes. Default: one per CPU (`os.availableParallelism()`). */
  concurrency?: number;
  /** Queues to serve. Default: every queue the module's tasks name. */
  queues?: string[];
  /** On close, how long running tasks may take to finish before they are put back to waiting. Default: 30 000 ms. */
  shutdownGraceMs?: number;
  /** After a timeout or cancel, how long the handler has to give up before its process is SIGKILLed. Default: 1000 ms. */
  killGraceMs?: number;
  /**
   * Memory cap of each sandbox, MiB. A sandbox process's RSS (which includes ~60 MB of runtime, and Buffers
   * outside V8's heap) is sampled every 50 ms while a task runs; over the cap the process is SIGKILLed at
   * once and the attempt fails with reason `oom`, within 2 s of the crossing whichever of heap or external
   * memory fills first (V8's own heap limit is set above the cap, so V8 never spends long in GC first).
   * A thread sandbox gets the cap as V8's heap limit (`resourceLimits`). Default: none.
   */
  maxMemoryMb?: number;
  /** Replace a sandbox after this many tasks. Default: never. */
  maxTasksPerProcess?: number;
  /**
   * Objects by reference (`ctx.get`, `ctx.put`, the claim check): `cacheDir`, this machine's cache, shared by its
   * workers (default: `taskpool-objects` in the OS's temp directory); `cacheMaxBytes`, its bound (default 2 GiB,
   * least recently used first out); `dir`, the shared directory of big objects, as the clients' `objects.dir`
   * (default: none), and `fsFromBytes`, from what size objects go there (default 1 MiB); `inlineMaxBytes`, the
   * size above which an output goes by reference (default 64 KiB); `maxBytes`, the largest object (default 1 GiB);
   * `sweepMs`, how often a worker deletes the objects of removed jobs (default 60 000 ms; 0: never), and
   * `sweepGraceMs`, how old an object's record must be before it is swept (default 15 minutes).
   */
  objects?: ObjectOptions & { cacheDir?: string; cacheMaxBytes?: number; sweepMs?: number; sweepGraceMs?: number };
  /** Replace a sandbox whose RSS is over this after a task, MiB. Default: never. */
  maxRssMbPerProcess?: number;
  /** Crashes of one job's attempts (exit, signal, oom) after which it fails for good as `quarantined`. Default: 3. */
  quarantineAfterCrashes?: number;
  /**
   * How long a job's lock lasts without renewal (BullMQ's `lockDuration`; the worker renews it about every
   * quarter of this, never later than half). A job whose worker died, froze or was cut off from Redis goes back
   * to waiting, and at once to an idle worker, within `lockDurationMs + stalledIntervalMs` of the fault, at worst
   * `lockDurationMs + 2 × stalledIntervalMs` (11 s, at worst 14 s, with the defaults; docs/architecture.md,
   * "Recovery"). Shorter is faster recovery, but a worker cut off from Redis for more than half of it may see
   * its running jobs run again elsewhere. Default: {@link DEFAULT_LOCK_DURATION_MS} (8000 ms).
   */
  lockDurationMs?: number;
  /**
   * How often the worker looks for stalled jobs (BullMQ's `stalledInterval`). All workers of a queue share one
   * cadence: a check makes every other check of the queue within one interval a no-op (a key that expires), so
   * a check whose timer fires a hair before that key expires is skipped, hence the "at worst" of
   * `lockDurationMs`. Must be below `lockDurationMs`. Default:
   * {@link DEFAULT_STALLED_INTERVAL_MS} (3000 ms).
   */
  stalledIntervalMs?: number;
  /**
   * Stalls every job survives whatever its attempts. A stall (the job's worker died, froze or was cut off from
   * Redis while it ran) spends one of the job's attempts; a job over both budgets fails for good with reason
   * `stalled` (code `STALLED`), its handler may have run. Default: `DEFAULT_MAX_STALLS` (2).
   */
  maxStalls?: number;
  /** Concurrent jobs of each queue whose tasks are `inline`. Default: 100. */
  inlineConcurrency?: number;
  /** The Node binary sandbox processes are forked with. Default: the worker's own (`process.execPath`). */
  sandboxExecPath?: string;
  /**
   * Who takes the jobs of `process` queues from Redis. `'supervisor'`: the worker process fetches each job and
   * hands it to an idle sandbox over IPC, which answers over IPC (Redis → supervisor → sandbox → supervisor →
   * Redis). `'sandbox'`: each sandbox process fetches, runs and records its jobs itself, one at a time, on a
   * Redis connection of its own (Redis → sandbox → Redis); the worker process stays off each job's path and
   * keeps what only it can do: it starts, watches and recycles the sandboxes, renews the locks of the jobs they
   * hold, enforces timeouts, memory caps and cancels by killing, and records at once the job of a sandbox that
   * dies (docs/architecture.md, "Sandboxes that take their own jobs"). Each sandbox then loads BullMQ and
   * ioredis and holds two connections. `thread` and `inline` queues are fetched by the worker process either
   * way. The worker app reads `TASKPOOL_FETCH`. Default: `'supervisor'`.
   */
  fetch?: FetchMode;
  /**
   * Jobs each queue's BullMQ worker holds beyond one per sandbox, while tasks are known to be short (from the
   * first run on): the next job is fetched while a task runs, so a sandbox starts its next task without
   * waiting for Redis. 0: none. With
   * `fetch: 'sandbox'` it does not apply. The worker app reads `TASKPOOL_PREFETCH`. Default:
   * `DEFAULT_PREFETCH` (1).
   */
  prefetch?: number;
  /**
   * Prefetching stops while the tasks' mean run time (exponentially weighted) is over this, ms: a job held
   * behind a long task would wait for it while another worker may be idle. Default:
   * `DEFAULT_PREFETCH_MAX_TASK_MS` (100 ms).
   */
  prefetchMaxTaskMs?: number;
  /**
   * Most runs each sandbox holds at once while tasks are very short: the mean run time times the depth stays
   * within `PIPELINE_BUDGET_MS` (2 ms), so a job waits at most that behind the runs sent before it. Runs
   * sent ahead start without waiting for the supervisor, and their messages share writes. A fault while a
   * sandbox holds several runs (it dies, times out, goes over its memory cap) is blamed on none: each runs again
   * at once, alone in a sandbox, where a fault is its own (a run that had finished may so run twice). 1: one run
   * at a time. The worker app reads `TASKPOOL_PIPELINE_DEPTH`. Default: `DEFAULT_PIPELINE_DEPTH` (16).
   */
  pipelineDepth?: number;
  /**
   * Take and complete plain jobs K at a time (the lean lane, see `LeanWorker`): a fetch takes as many jobs as
   * there are free slots in one call, and the completions of one turn go to Redis in one call, on BullMQ's own
   * structures. Off: BullMQ's per-job calls. The worker app reads `TASKPOOL_LEAN_LANE`. Default: true.
   */
  leanLane?: boolean;
  /**
   * Priority aging: a prioritized job rises one priority level per this many ms it has waited (keeping its place
   * among those that arrived before it), to level 0 above every priority after `priority × priorityAgingMs`; so a
   * job of priority P starts within about P × this under any stream of higher-priority work (jobs without a
   * priority still go first, as BullMQ serves them). 0: off. The worker
   * app reads `TASKPOOL_PRIORITY_AGING_MS`. Default: `DEFAULT_PRIORITY_AGING_MS` (60 s).
   */
  priorityAgingMs?: number;
}

/** Who takes the jobs of `process` queues from Redis (see `StartWorkerOptions.fetch`). */
export type FetchMode = 'supervisor' | 'sandbox';

/** Default of `lockDurationMs`. */
export const DEFAULT_LOCK_DURATION_MS = 8_000;
/** Default of `stalledIntervalMs`. */
export const DEFAULT_STALLED_INTERVAL_MS = 3_000;
/** A running worker instance. */
export interface TaskpoolWorker {
  readonly id: string;
  readonly queues: readonly string[];
  readonly concurrency: number;
  /** Pids of the live sandbox processes. */
  readonly sandboxPids: number[];
  /** Sandbox processes started so far, first ones and replacements. */
  readonly sandboxesStarted: number;
  /**
   * False while a sandbox pool has no live process and none can start: the worker's queues of that
   * isolation are paused (no job fetched; a job already fetched goes back to waiting) until one starts.
   */
  readonly healthy: boolean;
  /** Stops fetching, lets running tasks finish within the grace period, requeues the rest, stops the sandboxes. */
  close(): Promise<void>;
  /** For `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}
