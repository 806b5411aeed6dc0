import type { Logger } from 'pino';
import type { RedisClient } from '../redisConnection.ts';
import { countCompleted, type CountedJob } from '../store/taskCounts.ts';

/** Most completions counted in one call. */
const MAX_BATCH = 100;

/**
 * Counts completed jobs in batches clocked by Redis's replies, with no timer: a completion while no count call is
 * under way is sent at the end of the current turn (with the others of that turn); completions that come while
 * a call is under way wait for its reply and then go together, at most 100 a call (see `countCompleted`). Under
 * load one call carries many completions; a lone job costs one call and no wake-up of its own (a timer that
 * gathered completions for 2 ms woke the worker once more per job while tasks were long). A count is off the
 * job's path (the result reaches its caller through BullMQ's event, before or after), so the wait delays no
 * result. A batch that fails is logged and left to the jobs' next move or to the readers' repair, as a single
 * count would be; a worker that dies drops at most the completions gathered or under way the same way.
 */
export class CompletedCountBatcher {
  #pending: CountedJob[] = [];
  #scheduled = false;
  #inFlight: Promise<void> | undefined;

  constructor(private readonly options: { redis: RedisClient; prefix: string; logger: Logger }) {}

  /** Counts a completed job soon. */
  add(job: CountedJob): void {
    this.#pending.push(job);
    if (this.#inFlight || this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#send();
    });
  }

  /** Sends what waits, and resolves once every completion added so far has been counted (or its call has failed). */
  async flush(): Promise<void> {
    while (this.#inFlight || this.#pending.length > 0) {
      this.#send();
      await this.#inFlight;
    }
  }

  #send(): void {
    if (this.#inFlight || this.#pending.length === 0) return;
    const jobs = this.#pending.splice(0, MAX_BATCH);
    const { redis, prefix, logger } = this.options;
    this.#inFlight = countCompleted(redis, prefix, jobs)
      .catch((err: unknown) => logger.warn({ event: 'worker:count-failed', err, jobIds: jobs.map((job) => job.jobId) }, 'Could not update the per-task counts'))
      .finally(() => {
        this.#inFlight = undefined;
        this.#send();
      });
  }
}
