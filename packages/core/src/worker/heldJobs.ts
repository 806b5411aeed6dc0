import type { Logger } from 'pino';
import type { AbortReason } from './attemptFailure.ts';
import { readRssMb } from './processStats.ts';
import type { HeldJob } from './sandboxProtocol.ts';

/** A job a self-fetching sandbox holds, as its supervisor watches it. */
export interface Watched {
  job: HeldJob;
  startedAt: number;
  timers: NodeJS.Timeout[];
  /** Past the sandbox's one-at-a-time gate: its limits apply. */
  running: boolean;
  aborted?: AbortReason;
}

/** What the watch needs of the sandbox whose jobs it watches. */
export interface HeldJobsHost {
  readonly pid: number;
  readonly logger: Logger;
  /** The sandbox took a job (renew its lock, hear its cancels). */
  took(job: HeldJob): void;
  /** A job it held began running. */
  began(job: HeldJob): void;
  /** The sandbox recorded a job's outcome (or gave it back). */
  released(job: HeldJob, outcome: 'done' | 'failed' | 'none'): void;
  /** Asks the sandbox to stop a job (its signal fires; it records the failure and takes no more). */
  sendAbort(jobId: string, reason: 'timeout' | 'cancelled'): void;
  /** The sandbox takes no more jobs once this one ends. */
  retire(): void;
  /** SIGKILLs the process. */
  kill(): void;
}

/**
 * The jobs a self-fetching sandbox holds (`fetch: 'sandbox'`), as its supervisor watches them: each job's
 * timeout and memory cap once it runs, its abort (the sandbox's own first, SIGKILL `graceMs` later), and what is
 * left when the process dies.
 */
export class HeldJobs {
  private readonly watched = new Map<string, Watched>();

  constructor(
    private readonly host: HeldJobsHost,
    private readonly limits: { killGraceMs: number; maxRssMb?: number; sampleMs: number },
  ) {}

  get size(): number {
    return this.watched.size;
  }

  /** The jobs held. */
  get jobs(): HeldJob[] {
    return [...this.watched.values()].map((w) => w.job);
  }

  /** The job held that runs now, if any. */
  running(): Watched | undefined {
    for (const watched of this.watched.values()) if (watched.running) return watched;
    return undefined;
  }

  /** The queue of a job held. */
  queueOf(jobId: string): string | undefined {
    return this.watched.get(jobId)?.job.queue;
  }

  /** A job the sandbox took, or began running. */
  onHeld(job: HeldJob): void {
    let watched = this.watched.get(job.jobId);
    if (!watched) {
      watched = { job, startedAt: performance.now(), timers: [], running: false };
      this.watched.set(job.jobId, watched);
      this.host.took(job);
    }
    if (!job.started || watched.running) return;
    watched.running = true;
    watched.job = job;
    watched.startedAt = performance.now();
    this.host.began(job);
    if (job.timeoutMs !== undefined) watched.timers.push(setTimeout(() => this.abort(job.jobId, 'timeout'), job.timeoutMs));
    const cap = this.limits.maxRssMb;
    if (cap !== undefined) {
      watched.timers.push(
        setInterval(() => {
          const rss = readRssMb(this.host.pid);
          if (rss !== undefined && rss > cap) {
            this.host.logger.warn({ event: 'sandbox:over-memory', jobId: job.jobId, rssMb: Math.round(rss), maxRssMb: cap });
            this.abort(job.jobId, 'oom', 0);
          }
        }, this.limits.sampleMs),
      );
    }
  }

  /** The sandbox recorded a job's outcome. */
  onReleased(jobId: string, outcome: 'done' | 'failed' | 'none'): void {
    const watched = this.watched.get(jobId);
    if (!watched) return;
    this.watched.delete(jobId);
    for (const timer of watched.timers) clearTimeout(timer);
    this.host.released(watched.job, outcome);
  }

  /**
   * Stops a job held: the sandbox fires the handler's signal and records the failure (`reason`), and takes no
   * more jobs; `graceMs` later the process is SIGKILLed if it still holds the job. Over the memory cap, at once.
   */
  abort(jobId: string, reason: AbortReason, graceMs = this.limits.killGraceMs): void {
    const watched = this.watched.get(jobId);
    if (!watched || watched.aborted) return;
    watched.aborted = reason;
    this.host.retire();
    if (reason !== 'oom') this.host.sendAbort(jobId, reason === 'cancelled' ? 'cancelled' : 'timeout');
    const kill = (): void => {
      if (this.watched.get(jobId) === watched) this.host.kill();
    };
    if (graceMs <= 0) kill();
    else watched.timers.push(setTimeout(kill, graceMs));
  }

  /** The process died: hands over each job it still held (its timers stopped), then forgets them. */
  drain(each: (watched: Watched) => void): void {
    for (const watched of this.watched.values()) {
      for (const timer of watched.timers) clearTimeout(timer);
      each(watched);
    }
    this.watched.clear();
  }
}
