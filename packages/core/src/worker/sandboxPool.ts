import type { Logger } from 'pino';
import { readRssMb, SandboxProcess, type SandboxOptions } from './sandboxProcess.ts';

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
 * A fixed number of sandbox processes. A process that dies is replaced (with backoff while processes keep
 * failing to start, e.g. a failing `setup()`), so one crash never breaks the pool. Processes are recycled
 * between tasks, one at a time, never while they run one.
 */
export class SandboxPool {
  private readonly idle: SandboxProcess[] = [];
  private readonly all = new Set<SandboxProcess>();
  private readonly waiters: ((sandbox: SandboxProcess) => void)[] = [];
  private closing = false;
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private recycling = false;
  private startFailures = 0;
  private readonly logger: Logger;
  /** Processes started (first and replacements), for tests and the heartbeat. */
  started = 0;

  constructor(private readonly options: SandboxPoolOptions) {
    this.logger = options.logger;
  }

  /**
   * Starts every process. Resolves once at least one is ready; those that fail to start are retried with
   * backoff in the background (logged as `sandbox:start-failed` with the error), so a failing `setup()`
   * neither crashes the worker nor fails tasks in a loop: no job is fetched until a sandbox is ready.
   */
  async start(): Promise<void> {
    const firstReady = new Promise<void>((resolve) => this.waiters.push((sandbox) => (this.release(sandbox), resolve())));
    await Promise.all(Array.from({ length: this.options.size }, () => this.spawn()));
    await firstReady;
    this.logger.info({ event: 'pool:ready', size: this.options.size, pids: this.pids });
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

  /** Waits for an idle process. */
  acquire(): Promise<SandboxProcess> {
    const sandbox = this.idle.pop();
    if (sandbox) return Promise.resolve(sandbox);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Gives a process back after a task: a dead one is replaced, a worn one recycled. */
  release(sandbox: SandboxProcess): void {
    if (!sandbox.alive) {
      this.all.delete(sandbox);
      if (!this.closing) void this.spawn();
      return;
    }
    if (this.closing) {
      void sandbox.stop();
      return;
    }
    const why = sandbox.retireAfterRun ? 'aborted' : this.wornOut(sandbox);
    if (why && (why === 'aborted' || !this.recycling)) {
      void this.recycle(sandbox, why);
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) waiter(sandbox);
    else this.idle.push(sandbox);
  }

  /** Stops every process: `teardown()` then exit, SIGKILL after `graceMs`. */
  async close(graceMs = 5_000): Promise<void> {
    this.closing = true;
    for (const timer of this.retryTimers) clearTimeout(timer);
    await Promise.all([...this.all].map((s) => s.stop(graceMs)));
    this.all.clear();
    this.idle.length = 0;
  }

  /** SIGKILLs every process now; none is replaced after this. */
  killAll(): void {
    this.closing = true;
    for (const timer of this.retryTimers) clearTimeout(timer);
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
      await Promise.all([sandbox.stop(), this.spawn()]);
    } finally {
      if (oneAtATime) this.recycling = false;
    }
  }

  private adopt(sandbox: SandboxProcess): void {
    this.all.add(sandbox);
    void sandbox.exited$().then(() => {
      // An idle process that died is dropped and replaced here; a busy one is replaced on release.
      const at = this.idle.indexOf(sandbox);
      if (at >= 0) {
        this.idle.splice(at, 1);
        this.all.delete(sandbox);
        if (!this.closing) void this.spawn();
      }
    });
    this.release(sandbox);
  }

  /** Starts one process; on failure retries with growing backoff until one starts or the pool closes. */
  private async spawn(): Promise<void> {
    if (this.closing) return;
    try {
      const sandbox = await SandboxProcess.start(this.options);
      this.started++;
      this.startFailures = 0;
      if (this.closing) {
        await sandbox.stop();
        return;
      }
      this.logger.debug({ event: 'sandbox:start', sandboxPid: sandbox.pid });
      this.adopt(sandbox);
    } catch (error) {
      const delay = RESTART_BACKOFF_MS[Math.min(this.startFailures++, RESTART_BACKOFF_MS.length - 1)] ?? 30_000;
      this.logger.error({ event: 'sandbox:start-failed', err: error, retryInMs: delay }, `A sandbox process failed to start: ${(error as Error).message}`);
      if (this.closing) return;
      // Not unref'd: a worker whose every sandbox fails to start stays up and keeps retrying.
      const timer = setTimeout(() => {
        this.retryTimers.delete(timer);
        void this.spawn();
      }, delay);
      this.retryTimers.add(timer);
    }
  }
}
