/** What the governor sets: a BullMQ `Worker`'s concurrency. */
export interface Concurrent {
  concurrency: number;
}

/** Default of `StartWorkerOptions.prefetch`. */
export const DEFAULT_PREFETCH = 1;
/** Default of `StartWorkerOptions.prefetchMaxTaskMs`. */
export const DEFAULT_PREFETCH_MAX_TASK_MS = 100;
/** Weight of the newest run time in the moving mean. */
const WEIGHT = 0.2;

/**
 * Lets the BullMQ workers of a sandbox pool hold `prefetch` jobs more than the pool has sandboxes while tasks
 * are short: the next job is fetched while a task runs, so a sandbox that finishes one task starts the next
 * with no round trip to Redis in between. It starts off, and is on while the tasks' mean run time is at most
 * `maxTaskMs`: a job held behind a long task would wait for it while another worker may be idle. The mean is
 * an exponentially weighted one of the runs reported by {@link ran}.
 */
export class PrefetchGovernor {
  private meanMs: number | undefined;
  private on = false;

  constructor(
    private readonly workers: readonly Concurrent[],
    private readonly poolSize: number,
    private readonly prefetch: number,
    private readonly maxTaskMs: number,
  ) {
    this.apply();
  }

  /** The BullMQ concurrency of each worker now. */
  get concurrency(): number {
    return this.poolSize + (this.on ? this.prefetch : 0);
  }

  /** A task ran for `ms` in a sandbox of the pool. */
  ran(ms: number): void {
    this.meanMs = this.meanMs === undefined ? ms : this.meanMs + WEIGHT * (ms - this.meanMs);
    const on = this.meanMs <= this.maxTaskMs;
    if (on === this.on) return;
    this.on = on;
    this.apply();
  }

  private apply(): void {
    for (const worker of this.workers) worker.concurrency = this.concurrency;
  }
}
