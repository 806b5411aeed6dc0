import type { Logger } from 'pino';
import { SandboxProcess, type SandboxOptions } from './sandboxProcess.ts';

/** Options of a {@link SandboxPool}. */
export interface SandboxPoolOptions extends SandboxOptions {
  /** How many sandbox processes. */
  size: number;
}

const RESTART_BACKOFF_MS = [250, 1_000, 2_000, 5_000, 10_000, 30_000];

/**
 * A fixed number of sandbox processes. A process that dies is replaced (with backoff if it keeps failing
 * to start), so one crash never breaks the pool.
 */
export class SandboxPool {
  private readonly idle: SandboxProcess[] = [];
  private readonly all = new Set<SandboxProcess>();
  private readonly waiters: ((sandbox: SandboxProcess) => void)[] = [];
  private closing = false;
  private readonly logger: Logger;

  constructor(private readonly options: SandboxPoolOptions) {
    this.logger = options.logger;
  }

  /** Starts every process; rejects (after stopping those that started) if any fails to start. */
  async start(): Promise<void> {
    const results = await Promise.allSettled(Array.from({ length: this.options.size }, () => SandboxProcess.start(this.options)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    if (failed) {
      await Promise.all(started.map((s) => s.stop(1_000)));
      throw failed.reason;
    }
    for (const sandbox of started) this.adopt(sandbox);
    this.logger.info({ event: 'pool:ready', size: this.options.size, pids: this.pids });
  }

  /** The pids of the live processes. */
  get pids(): number[] {
    return [...this.all].map((s) => s.pid);
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

  /** Gives a process back; a dead one is replaced. */
  release(sandbox: SandboxProcess): void {
    if (!sandbox.alive) {
      this.all.delete(sandbox);
      if (!this.closing) void this.replace(0);
      return;
    }
    if (this.closing) {
      void sandbox.stop();
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) waiter(sandbox);
    else this.idle.push(sandbox);
  }

  /** Stops every process: `teardown()` then exit, SIGKILL after `graceMs`. */
  async close(graceMs = 5_000): Promise<void> {
    this.closing = true;
    await Promise.all([...this.all].map((s) => s.stop(graceMs)));
    this.all.clear();
    this.idle.length = 0;
  }

  /** SIGKILLs every process now; none is replaced after this. */
  killAll(): void {
    this.closing = true;
    for (const s of this.all) s.kill();
  }

  private adopt(sandbox: SandboxProcess): void {
    this.all.add(sandbox);
    void sandbox.exited$().then(() => {
      // An idle process that died is dropped and replaced here; a busy one is replaced on release.
      const at = this.idle.indexOf(sandbox);
      if (at >= 0) {
        this.idle.splice(at, 1);
        this.all.delete(sandbox);
        if (!this.closing) void this.replace(0);
      }
    });
    this.release(sandbox);
  }

  private async replace(failures: number): Promise<void> {
    try {
      const sandbox = await SandboxProcess.start(this.options);
      if (this.closing) {
        await sandbox.stop();
        return;
      }
      this.logger.info({ event: 'sandbox:start', sandboxPid: sandbox.pid });
      this.adopt(sandbox);
    } catch (error) {
      const delay = RESTART_BACKOFF_MS[Math.min(failures, RESTART_BACKOFF_MS.length - 1)] ?? 30_000;
      this.logger.error({ event: 'sandbox:start-failed', err: error, retryInMs: delay }, 'A sandbox process failed to start');
      if (this.closing) return;
      setTimeout(() => void this.replace(failures + 1), delay).unref();
    }
  }
}
