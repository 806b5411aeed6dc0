/** What the governor sets: a BullMQ `Worker`'s concurrency. */
export interface Concurrent {
  concurrency: number;
}

/** What the governor sets on the pool: the runs each sandbox may hold at once (see `SandboxPool.depth`). */
export interface Deep {
  depth: number;
}

/** Default of `StartWorkerOptions.prefetch`. */
export const DEFAULT_PREFETCH = 1;
/** Default of `StartWorkerOptions.prefetchMaxTaskMs`. */
export const DEFAULT_PREFETCH_MAX_TASK_MS = 100;
/** Default of `StartWorkerOptions.pipelineDepth`. */
export const DEFAULT_PIPELINE_DEPTH = 16;
/**
 * A sandbox holds runs ahead only while their mean run times add up to at most this, ms: a job never waits
 * longer than this behind the runs sent before it to the same sandbox.
 */
export const PIPELINE_BUDGET_MS = 2;
/** Weight of the newest run time in the moving mean. */
const WEIGHT = 0.2;

/** Options of a {@link PrefetchGovernor}. */
export interface GovernorOptions {
  /** Sandboxes in the pool. */
  poolSize: number;
  /** Jobs held beyond those sent to sandboxes, while tasks are short. */
  prefetch: number;
  /** Prefetching stops while the mean run time is over this, ms. */
  maxTaskMs: number;
  /** Most runs a sandbox holds at once (1: one at a time). Default: 1. */
  pipelineDepth?: number;
  /** The pool whose depth is set. */
  pool?: Deep;
}

/**
 * Lets the BullMQ workers of a sandbox pool hold more jobs than the pool has sandboxes while tasks are short:
 * - `prefetch` more while the tasks' mean run time is at most `maxTaskMs`: the next job is fetched while a task
 *   runs, so a sandbox that finishes one task starts the next with no round trip to Redis in between;
 * - and, while the mean run time × depth fits {@link PIPELINE_BUDGET_MS}, up to `pipelineDepth` runs per
 *   sandbox: they are sent ahead and run in order, so a sandbox never waits for its supervisor between two
 *   tasks, and the runs' messages (and their jobs' Redis calls) share writes. The supervisor then also holds
 *   a second batch of as many jobs (a double buffer, at least `prefetch`): the runs a sandbox finishes are
 *   replaced from it at once, while the jobs that take their place are fetched from Redis. Without it each
 *   sandbox's queue ran dry for a round trip to Redis per batch (measured: ~40% more no-op jobs a second and
 *   ~30% less CPU per job with it, docs/architecture.md).
 * It starts off, from the first run on: a job held behind a long task would wait for it while another worker
 * may be idle. The mean is an exponentially weighted one of the runs reported by {@link ran}.
 */
export class PrefetchGovernor {
  private meanMs: number | undefined;
  private on = false;
  private depth = 1;

  constructor(
    private readonly workers: readonly Concurrent[],
    private readonly options: GovernorOptions,
  ) {
    this.apply();
  }

  /** The BullMQ concurrency of each worker now. */
  get concurrency(): number {
    const sent = this.options.poolSize * this.depth;
    if (!this.on) return sent;
    return sent + (this.depth > 1 ? Math.max(this.options.prefetch, sent) : this.options.prefetch);
  }

  /** A task ran for `ms` in a sandbox of the pool. */
  ran(ms: number): void {
    const mean = (this.meanMs = this.meanMs === undefined ? ms : this.meanMs + WEIGHT * (ms - this.meanMs));
    const on = mean <= this.options.maxTaskMs;
    const maxDepth = this.options.pipelineDepth ?? 1;
    const depth = Math.max(1, Math.min(maxDepth, Math.floor(PIPELINE_BUDGET_MS / Math.max(mean, 1e-3))));
    if (on === this.on && depth === this.depth) return;
    this.on = on;
    this.depth = depth;
    this.apply();
  }

  private apply(): void {
    for (const worker of this.workers) worker.concurrency = this.concurrency;
    if (this.options.pool) this.options.pool.depth = this.depth;
  }
}
