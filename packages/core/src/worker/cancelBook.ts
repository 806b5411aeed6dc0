import type { Logger } from 'pino';
import type { RedisClient } from '../redisConnection.ts';
import { readCancelFlags } from '../store/cancelFlags.ts';
import type { TaskSlot } from './inlineExecutor.ts';

/** How a cancel reached the worker: the channel's message, or the job hash's durable `tpCancel` flag. */
export type CancelSource = 'message' | 'flag';

interface Held {
  /** The job hash, where the cancel flag lives. */
  key: string;
  slot?: TaskSlot;
  cancelled: boolean;
  /** Set once the job's lock is taken as lost ({@link CancelBook.drop}): it is stopped, and its outcome never written. */
  dropped: boolean;
}

/**
 * The jobs a worker holds (fetched, waiting for or running in a slot) and the cancels it has heard. A job
 * cancelled before it was fetched is never given to a processor: the cancel set BullMQ's deferred failure on
 * it, which BullMQ reads with the fetch (see `store/flagCancel.ts`). A cancel of a job held here lands by either
 * of two ways, so that losing one never lets a cancelled job run on:
 * - the channel's message ({@link CancelBook.cancel}, from `listenForCancels`), at once;
 * - the durable flag on the job hash, read for every held job by {@link CancelBook.recheck}, which the
 *   listener runs every second and after each reconnect of its subscriber.
 */
export class CancelBook {
  private readonly held = new Map<string, Held>();

  constructor(
    private readonly redis: RedisClient,
    private readonly logger: Logger,
  ) {}

  /** A job fetched: from now on a cancel for it is kept (see {@link isCancelled}). */
  hold(jobId: string, key: string): void {
    this.held.set(jobId, { key, cancelled: false, dropped: false });
  }

  /** The job runs in `slot`: a cancel now aborts it. */
  attach(jobId: string, slot: TaskSlot): void {
    const entry = this.held.get(jobId);
    if (entry) entry.slot = slot;
  }

  /**
   * A job that runs in `slot`, fetched elsewhere (by a sandbox that takes its own jobs): from now on a cancel
   * heard for it aborts it, and {@link recheck} rereads its flag.
   */
  track(jobId: string, key: string, slot: TaskSlot): void {
    const entry = this.held.get(jobId);
    if (entry) entry.slot = slot;
    else this.held.set(jobId, { key, slot, cancelled: false, dropped: false });
  }

  /** True if a cancel for the job was heard, or its flag was read set, since it was held. */
  isCancelled(jobId: string): boolean {
    return this.held.get(jobId)?.cancelled === true;
  }

  /**
   * The job's lock is lost (the worker was cut off from Redis for longer than the lock, or Redis refused its
   * renewal): the job runs again elsewhere. Its run here is aborted like a cancel (the handler's signal, then
   * SIGKILL of its sandbox after the kill grace) and {@link isDropped} tells the processor to write nothing.
   * Returns false if the job is not held here.
   */
  drop(jobId: string): boolean {
    const entry = this.held.get(jobId);
    if (!entry) return false;
    entry.dropped = true;
    entry.slot?.abort('cancelled');
    return true;
  }

  /** {@link drop}s every job held; returns their ids. */
  dropAll(): string[] {
    const ids = [...this.held.keys()].filter((jobId) => !this.held.get(jobId)!.dropped);
    for (const jobId of ids) this.drop(jobId);
    return ids;
  }

  /** True once the job was {@link drop}ped: nothing of its attempt here may reach Redis. */
  isDropped(jobId: string): boolean {
    return this.held.get(jobId)?.dropped === true;
  }

  /** The job is done here. */
  release(jobId: string): void {
    this.held.delete(jobId);
  }

  /**
   * A cancel was heard or read: a job held here is marked, and aborted if it runs. Returns the slot aborted, if
   * any. A cancel for a job not held is forgotten: a job not running when it was cancelled got BullMQ's
   * deferred failure, so a later fetch fails it (and a retry, which clears both, is not cancelled by an old message).
   */
  cancel(jobId: string, via: CancelSource = 'message'): TaskSlot | undefined {
    const entry = this.held.get(jobId);
    if (!entry || entry.cancelled) return undefined;
    entry.cancelled = true;
    if (!entry.slot) return undefined;
    entry.slot.abort('cancelled');
    this.logger.info({ event: 'job:cancel', jobId, sandboxPid: entry.slot.pid, via });
    return entry.slot;
  }

  /** Reads the flags of every job held and not yet cancelled, in one pipeline, and cancels those set. */
  async recheck(): Promise<void> {
    const open = [...this.held].filter(([, entry]) => !entry.cancelled).map(([jobId, entry]): [string, string] => [jobId, entry.key]);
    await this.readFlags(open);
  }

  /** One pipeline of `HGET key tpCancel`; a failed read is logged and left to the next recheck. */
  private async readFlags(jobs: [jobId: string, key: string][]): Promise<void> {
    if (jobs.length === 0) return;
    try {
      const flags = await readCancelFlags(this.redis, jobs.map(([, key]) => key));
      jobs.forEach(([jobId], i) => {
        if (flags[i] === true) this.cancel(jobId, 'flag');
      });
    } catch (err) {
      this.logger.warn({ event: 'worker:error', err }, 'Could not read cancel flags');
    }
  }
}
