import type { Logger } from 'pino';
import type { RedisClient } from '../redisConnection.ts';
import { countCompleted, type CountedJob } from '../store/taskCounts.ts';

/** How long a completion waits for others to be counted with it, ms. */
export const COUNT_BATCH_MS = 2;
/** Most completions counted in one call. */
const MAX_BATCH = 100;

/**
 * Counts completed jobs in batches: the completions of the next {@link COUNT_BATCH_MS} (at most 100) go to
 * Redis in one script call (see `countCompleted`), not one call and one round trip each. A count is off the
 * job's path (the result reaches its caller through BullMQ's event, before or after), so the wait delays no
 * result. A batch that fails is logged and left to the jobs' next move or to the readers' repair, as a single
 * count would be; a worker that dies drops at most one batch's worth the same way.
 */
export class CompletedCountBatcher {
  #pending: CountedJob[] = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(private readonly options: { redis: RedisClient; prefix: string; logger: Logger }) {}

  /** Counts a completed job soon. */
  add(job: CountedJob): void {
    this.#pending.push(job);
    if (this.#pending.length >= MAX_BATCH) this.#send();
    else this.#timer ??= setTimeout(() => this.#send(), COUNT_BATCH_MS);
  }

  /** Sends what waits, and resolves once every batch sent has been answered (or has failed). */
  async flush(): Promise<void> {
    this.#send();
    await Promise.all(this.#inFlight);
  }

  #send(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const jobs = this.#pending;
    if (jobs.length === 0) return;
    this.#pending = [];
    const { redis, prefix, logger } = this.options;
    const sent = countCompleted(redis, prefix, jobs).catch((err: unknown) =>
      logger.warn({ event: 'worker:count-failed', err, jobIds: jobs.map((job) => job.jobId) }, 'Could not update the per-task counts'),
    );
    this.#inFlight.add(sent);
    void sent.finally(() => this.#inFlight.delete(sent));
  }
}
