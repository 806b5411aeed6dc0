import type { Logger } from 'pino';
import { SandboxUnavailableError } from '../errors.ts';
import { readRssMb } from './processStats.ts';
import type { AbortReason } from './attemptFailure.ts';
import type { Executor, TaskSlot } from './inlineExecutor.ts';
import { SandboxProcess, SandboxStartKilled, type SandboxOptions, type SandboxRequest } from './sandboxProcess.ts';

/** Options of a {@link SandboxPool}. */
export interface SandboxPoolOptions extends SandboxOptions {
  /** How many sandbox processes. */
  size: number;
  /** Replace a process after it has run this many tasks. Default: never. */
  maxTasksPerProcess?: number;
  /** Replace a process whose RSS is over this many MiB after a task. Default: never. */
  maxRssMbPerProcess?: number;
}

const RESTART_BACKOFF_MS = [250, 1_000, 2_000, 5_000, 10_000, 30_000];
/**
 * A start killed from outside is restarted at once, but at most this many times per pool slot within
 * {@link IMMEDIATE_RESTART_WINDOW_MS} (one a second on average): past that (something kills every start, e.g.
 * the OOM killer during setup) further kills count as start failures and back off.
 */
const IMMEDIATE_RESTARTS_PER_SLOT = 10;
const IMMEDIATE_RESTART_WINDOW_MS = 10_000;

/** Whether a pool can run tasks. */
export interface PoolHealth {
  /** False while no sandbox is alive and the latest start failed: no task can run. */
  healthy: boolean;
  /** Starts that failed in a row (0 once one succeeds). */
  startFailures: number;
  /** Why the latest start failed, while it did. */
  lastStartError?: string;
}

/** How a job asks for a sandbox. */
export interface AcquireOptions {
  /** Alone: a sandbox with no other run, which takes no other until this one ends. Default: false. */
  solo?: boolean;
}

/**
 * A fixed number of sandbox processes. Each runs one task at a time; while tasks are short the pool may send
 * each process up to {@link depth} runs at once (they run in order, their messages sharing writes), so that a
 * process never waits for its supervisor between two tasks. A process that dies is replaced (with backoff while processes keep
 * failing to start, e.g. a failing `setup()` or a fork the OS refuses; at once when a start was killed from
 * outside, which says nothing about the module), so one crash never breaks the pool.
 * Processes are recycled between tasks, one at a time, never while they run one. While no process is alive
 * and starts keep failing the pool is unhealthy: `acquire()` rejects with {@link SandboxUnavailableError}
 * (so a fetched job is given back instead of waiting for ever) and `onHealthChange` listeners hear it.
 */
export class SandboxPool implements Executor {
  private readonly all = new Set<SandboxProcess>();
  /** The runs handed out per process that can take runs (adopted, alive, not retiring). */
  private readonly load = new Map<SandboxProcess, number>();
  /** Processes running a solo run. */
  private readonly alone = new Set<SandboxProcess>();
  /** Processes that take no more runs: recycled once their runs end (`why`). */
  private readonly retiring = new Map<SandboxProcess, string>();
  private readonly waiters: { solo: boolean; resolve: (slot: SandboxSlot) => void; reject: (error: Error) => void }[] = [];
  #depth = 1;
  private closing = false;
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private recycling = false;
  private startFailures = 0;
  private lastStartError: string | undefined;
  private wasHealthy = true;
  private readonly healthListeners = new Set<(health: PoolHealth) => void>();
  private readonly logger: Logger;
  /** When recent starts killed from outside were restarted at once (see {@link IMMEDIATE_RESTARTS_PER_SLOT}). */
  private immediateRestarts: number[] = [];
  /** Processes started (first and replacements), for tests and the heartbeat. */
  started = 0;

  constructor(private readonly options: SandboxPoolOptions) {
    this.logger = options.logger;
  }

  /**
   * Starts every process. Resolves once every first start has succeeded or failed (if all failed, the pool is
   * unhealthy; see {@link health}). Those that fail are retried with backoff in the background
   * (logged as `sandbox:start-failed` with the error), so a failing `setup()` neither crashes the worker nor
   * fails tasks in a loop.
   */
  async start(): Promise<void> {
    // Each first start either adopts its sandbox or fails once (and retries later with backoff), within the
    // start timeout: so this never waits for ever, and a ready pool lists every sandbox that started.
    await Promise.all(Array.from({ length: this.options.size }, () => this.spawn()));
    if (this.all.size > 0) this.logger.info({ event: 'pool:ready', size: this.options.size, pids: this.pids });
  }

  /** Whether the pool can run tasks now. */
  get health(): PoolHealth {
    return {
      healthy: this.all.size > 0 || this.startFailures === 0,
      startFailures: this.startFailures,
      ...(this.lastStartError !== undefined && { lastStartError: this.lastStartError }),
    };
  }

  /** Calls `listener` whenever the pool turns healthy or unhealthy (and on every adoption); returns the unsubscribe. */
  onHealthChange(listener: (health: PoolHealth) => void): () => void {
    this.healthListeners.add(listener);
    return () => this.healthListeners.delete(listener);
  }

  /** The pids of the live processes. */
  get pids(): number[] {
    return [...this.all].map((s) => s.pid);
  }

  /** The live processes. */
  get sandboxes(): readonly SandboxProcess[] {
    return [...this.all];
  }

  /** How many processes run a task now. */
  get busyCount(): number {
    return [...this.all].filter((s) => s.busy).length;
  }

  /**
   * Runs each process may hold at once: 1 (the default) sends a run only to an idle process; more sends runs
   * ahead, to the least loaded process (the worker sets it from the tasks' run times, see prefetchGovernor.ts).
   */
  get depth(): number {
    return this.#depth;
  }

  set depth(depth: number) {
    this.#depth = Math.max(1, Math.floor(depth));
    this.serveWaiters();
  }

  /**
   * A slot for one run: in an idle process, or (below {@link depth}) behind the runs of the least loaded one.
   * Waits while none has room; rejects with {@link SandboxUnavailableError} while the pool is unhealthy.
   */
  acquire(options: AcquireOptions = {}): Promise<SandboxSlot> {
    const solo = options.solo ?? false;
    const sandbox = this.waiters.length === 0 ? this.pick(solo) : undefined;
    if (sandbox) return Promise.resolve(this.lease(sandbox, solo));
    if (!this.health.healthy) return Promise.reject(this.unavailable());
    return new Promise((resolve, reject) => this.waiters.push({ solo, resolve, reject }));
  }

  /** Gives a slot back after its run: a dead process is replaced, a worn one recycled once its runs end. */
  release(slot: TaskSlot): void {
    const { sandbox, solo } = slot as SandboxSlot;
    const left = (this.load.get(sandbox) ?? 1) - 1;
    if (solo) this.alone.delete(sandbox);
    if (!sandbox.alive) {
      this.load.delete(sandbox);
      this.retiring.delete(sandbox);
      if (this.all.delete(sandbox)) {
        this.healthChanged();
        if (!this.closing) void this.spawn();
      }
      this.serveWaiters();
      return;
    }
    if (this.load.has(sandbox)) this.load.set(sandbox, left);
    if (this.closing) {
      if (left <= 0) void sandbox.stop();
      return;
    }
    if (!this.retiring.has(sandbox) && this.load.has(sandbox)) {
      const why = sandbox.retireAfterRun ? 'aborted' : this.wornOut(sandbox);
      if (why && (why === 'aborted' || !this.recycling)) this.retiring.set(sandbox, why);
    }
    const why = this.retiring.get(sandbox);
    if (why !== undefined && left <= 0) {
      this.retiring.delete(sandbox);
      this.load.delete(sandbox);
      void this.recycle(sandbox, why);
    }
    this.serveWaiters();
  }

  /** The process a run goes to now: the least loaded with room (for a solo run, an idle one). */
  private pick(solo: boolean): SandboxProcess | undefined {
    let best: SandboxProcess | undefined;
    let bestLoad = Infinity;
    for (const [sandbox, load] of this.load) {
      if (!sandbox.alive || this.alone.has(sandbox) || this.retiring.has(sandbox)) continue;
      if (this.options.maxTasksPerProcess !== undefined && sandbox.tasksRun >= this.options.maxTasksPerProcess) continue;
      if (solo ? load > 0 : load >= this.#depth) continue;
      if (load < bestLoad) {
        best = sandbox;
        bestLoad = load;
      }
    }
    return best;
  }

  private lease(sandbox: SandboxProcess, solo: boolean): SandboxSlot {
    this.load.set(sandbox, (this.load.get(sandbox) ?? 0) + 1);
    if (solo) this.alone.add(sandbox);
    return new SandboxSlot(sandbox, solo);
  }

  /** Hands slots to the waiting runs, in order, while there is room. */
  private serveWaiters(): void {
    while (this.waiters.length > 0 && !this.closing) {
      const waiter = this.waiters[0]!;
      const sandbox = this.pick(waiter.solo);
      if (!sandbox) return;
      this.waiters.shift();
      waiter.resolve(this.lease(sandbox, waiter.solo));
    }
  }

  /** Stops every process: `teardown()` then exit, SIGKILL after `graceMs`. */
  async close(graceMs = 5_000): Promise<void> {
    this.closing = true;
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.turnAwayWaiters();
    await Promise.all([...this.all].map((s) => s.stop(graceMs)));
    this.all.clear();
    this.load.clear();
  }

  /** SIGKILLs every process now; none is replaced after this. */
  killAll(): void {
    this.closing = true;
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.turnAwayWaiters();
    for (const s of this.all) s.kill();
  }

  private wornOut(sandbox: SandboxProcess): string | undefined {
    const { maxTasksPerProcess, maxRssMbPerProcess } = this.options;
    if (maxTasksPerProcess !== undefined && sandbox.tasksRun >= maxTasksPerProcess) return 'max-tasks';
    if (maxRssMbPerProcess !== undefined) {
      const rss = readRssMb(sandbox.pid);
      if (rss !== undefined && rss > maxRssMbPerProcess) return 'max-rss';
    }
    return undefined;
  }

  /** Replaces an idle process: the new one starts first, then the old one runs `teardown()` and exits. */
  private async recycle(sandbox: SandboxProcess, why: string): Promise<void> {
    const oneAtATime = why !== 'aborted';
    if (oneAtATime) this.recycling = true;
    this.all.delete(sandbox);
    this.logger.info({ event: 'sandbox:recycle', sandboxPid: sandbox.pid, why, tasksRun: sandbox.tasksRun });
    try {
      // Self-fetching: it may have taken a job since; that job finishes first, never killed for a recycle.
      const stopped = this.options.selfFetch ? sandbox.drain().then(() => sandbox.stop()) : sandbox.stop();
      await Promise.all([stopped, this.spawn()]);
    } finally {
      if (oneAtATime) this.recycling = false;
    }
  }

  /**
   * Self-fetching (`selfFetch` in the options): after a sandbox recorded a job. One whose job was aborted, or
   * that is worn out, is replaced: it takes no more jobs, runs `teardown()` and exits while its successor starts.
   */
  afterJob(sandbox: SandboxProcess): void {
    if (this.closing || !this.all.has(sandbox) || !this.options.selfFetch) return;
    const why = sandbox.retireAfterRun ? 'aborted' : this.wornOut(sandbox);
    if (why) void this.recycle(sandbox, why);
  }

  private adopt(sandbox: SandboxProcess): void {
    this.all.add(sandbox);
    this.healthChanged();
    if (this.options.selfFetch) {
      // It takes its own jobs: never idle here; replaced when it dies (a recycled one is out of `all` already).
      void sandbox.exited$().then(() => {
        if (!this.all.delete(sandbox)) return;
        this.healthChanged();
        if (!this.closing) void this.spawn();
      });
      sandbox.serve();
      return;
    }
    void sandbox.exited$().then(() => {
      // An idle process that died is dropped and replaced here; a busy one is replaced on release.
      if ((this.load.get(sandbox) ?? 0) === 0 && this.all.delete(sandbox)) {
        this.load.delete(sandbox);
        this.retiring.delete(sandbox);
        this.healthChanged();
        if (!this.closing) void this.spawn();
      }
    });
    this.load.set(sandbox, 0);
    this.serveWaiters();
  }

  /** Starts one process; on failure retries with growing backoff until one starts or the pool closes. */
  private async spawn(): Promise<void> {
    if (this.closing) return;
    try {
      const sandbox = await SandboxProcess.start(this.options);
      this.started++;
      this.startFailures = 0;
      this.lastStartError = undefined;
      if (this.closing) {
        await sandbox.stop();
        return;
      }
      this.logger.debug({ event: 'sandbox:start', sandboxPid: sandbox.pid });
      this.adopt(sandbox);
    } catch (error) {
      if (error instanceof SandboxStartKilled && this.mayRestartAtOnce()) {
        // A kill from outside is no broken setup(): no failure counted, no backoff, health unchanged.
        this.logger.warn({ event: 'sandbox:start-killed', sandboxPid: error.pid, signal: error.signal, retryInMs: 0 }, `${error.message}: starting another at once`);
        void this.spawn();
        return;
      }
      const delay = RESTART_BACKOFF_MS[Math.min(this.startFailures++, RESTART_BACKOFF_MS.length - 1)] ?? 30_000;
      this.lastStartError = (error as Error).message;
      this.logger.error({ event: 'sandbox:start-failed', err: error, retryInMs: delay }, `A sandbox process failed to start: ${(error as Error).message}`);
      if (this.closing) return;
      this.healthChanged();
      // Not unref'd: a worker whose every sandbox fails to start stays up and keeps retrying.
      const timer = setTimeout(() => {
        this.retryTimers.delete(timer);
        void this.spawn();
      }, delay);
      this.retryTimers.add(timer);
    }
  }

  /** True (and counted) while immediate restarts stay within {@link IMMEDIATE_RESTARTS_PER_SLOT} per slot in the window. */
  private mayRestartAtOnce(): boolean {
    const now = Date.now();
    this.immediateRestarts = this.immediateRestarts.filter((at) => now - at < IMMEDIATE_RESTART_WINDOW_MS);
    if (this.immediateRestarts.length >= IMMEDIATE_RESTARTS_PER_SLOT * this.options.size) return false;
    this.immediateRestarts.push(now);
    return true;
  }

  /** A job prefetched and waiting for a sandbox when the pool closes is given back (its processor requeues it). */
  private turnAwayWaiters(): void {
    for (const waiter of this.waiters.splice(0)) waiter.reject(new SandboxUnavailableError('The worker is stopping: no sandbox will run this job here'));
  }

  private unavailable(): SandboxUnavailableError {
    return new SandboxUnavailableError(`No sandbox process is alive and none could start (${this.startFailures} starts failed in a row; the latest: ${this.lastStartError ?? 'unknown'})`);
  }

  /** Tells listeners, logs a turn, and gives back every waiting acquire while the pool is unhealthy. */
  private healthChanged(): void {
    const health = this.health;
    if (health.healthy !== this.wasHealthy) {
      this.wasHealthy = health.healthy;
      if (health.healthy) this.logger.info({ event: 'pool:healthy', pids: this.pids });
      else this.logger.error({ event: 'pool:unhealthy', startFailures: health.startFailures, lastStartError: health.lastStartError }, 'No sandbox can start: jobs are put back to waiting');
    }
    if (!health.healthy) for (const waiter of this.waiters.splice(0)) waiter.reject(this.unavailable());
    for (const listener of this.healthListeners) listener(health);
  }
}

/** One run's slot in a sandbox process: what a job's cancel aborts. */
export class SandboxSlot implements TaskSlot {
  private runId: number | undefined;

  constructor(
    readonly sandbox: SandboxProcess,
    readonly solo: boolean,
  ) {}

  get pid(): number {
    return this.sandbox.pid;
  }

  run(request: SandboxRequest): Promise<unknown> {
    const started = this.sandbox.start(request);
    this.runId = started.runId;
    return started.outcome;
  }

  abort(reason: AbortReason): void {
    if (this.runId !== undefined) this.sandbox.abortRun(this.runId, reason);
  }
}
