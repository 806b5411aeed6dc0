import type { Logger } from 'pino';
import { isConnectionError } from '../redisConnection.ts';
import type { CancelBook } from './cancelBook.ts';

/** Options of a {@link PartitionGuard}. */
export interface PartitionGuardOptions {
  /** The BullMQ lock duration of the worker's jobs: past this long without a Redis round trip, they are lost. */
  lockDurationMs: number;
  /** The jobs held, stopped and dropped when their locks are lost. */
  cancels: CancelBook;
  logger: Logger;
}

/** BullMQ's errors that say a job's lock is gone (its scripts' codes -2 and -6; its lock renewal). */
const LOCK_LOST = [/^Missing lock for job (.+?)\. /, /^Lock mismatch for job (.+?)\. /, /^could not renew lock for job (.+)$/];
/** BullMQ's errors that a job has moved on (codes -1 and -3): of a job whose lock is known lost, no news. */
const MOVED_ON = [/^Missing key for job (.+?)\. /, /^Job (.+?) is not in the active state\. /];
/** Jobs remembered as reported, so that each is reported once. */
const REPORTED_MAX = 10_000;
/** One `worker:redis-timeout` line per this long is enough. */
const TIMEOUT_LOG_EVERY_MS = 10_000;

/**
 * Notices that the worker is cut off from Redis, which it cannot otherwise tell from Redis being slow: every
 * Redis round trip that succeeds (a heartbeat, a lock renewal) is reported to {@link contact}. Once none has
 * for longer than the lock duration, the jobs' locks may have expired and the jobs may run elsewhere: the
 * guard logs `worker:partitioned` (error), stops every job held (as a cancel: the handler's signal, then
 * SIGKILL of its sandbox) and marks it dropped, so that nothing of its attempt is written (see
 * `CancelBook.drop`). On the next round trip it logs `worker:reconnected` and one `job:lock-lost` (warn) per
 * job dropped; BullMQ's errors that a job's lock is gone (`Missing lock for job ...`, a failed renewal) become
 * one `job:lock-lost` per job too, and stop that job if it still runs here.
 *
 * While silent for half the lock duration it asks for a round trip (`probe`, the heartbeat), so that an idle
 * worker is still heard from often enough.
 */
export class PartitionGuard {
  private lastContact = Date.now();
  private partitionedAt: number | undefined;
  /** Jobs dropped by the partition, reported on reconnect. */
  private readonly dropped = new Set<string>();
  private readonly reported = new Set<string>();
  private lastTimeoutLog = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: PartitionGuardOptions) {}

  /** Starts checking, `probe` asking for a round trip (whose success comes back as {@link contact}). */
  start(probe: () => void): void {
    const { lockDurationMs } = this.options;
    this.timer = setInterval(() => this.check(probe), Math.max(100, Math.min(1_000, lockDurationMs / 4)));
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** True from `worker:partitioned` until the next round trip. */
  get partitioned(): boolean {
    return this.partitionedAt !== undefined;
  }

  /** A Redis round trip of the worker succeeded. */
  contact(): void {
    this.lastContact = Date.now();
    if (this.partitionedAt === undefined) return;
    const downMs = this.lastContact - this.partitionedAt;
    this.partitionedAt = undefined;
    this.options.logger.info({ event: 'worker:reconnected', downMs, dropped: [...this.dropped] }, `Redis reachable again after ${downMs} ms`);
    for (const jobId of this.dropped) this.lockLost(jobId, 'partition');
    this.dropped.clear();
  }

  /**
   * An error of a BullMQ worker: a lost lock becomes `job:lock-lost` (warn, once per job; later news of a job
   * known lost, debug), a command timeout `worker:redis-timeout` and a connection error while Redis is away
   * (`ECONNREFUSED`..., one per reconnection attempt) `worker:redis-unreachable` (warn, together at most one line
   * per 10 s). Returns
   * false for any other error (the caller logs it).
   */
  workerError(error: Error): boolean {
    for (const pattern of LOCK_LOST) {
      const jobId = pattern.exec(error.message)?.[1];
      if (jobId === undefined) continue;
      this.lockLost(jobId, 'redis', error.message);
      return true;
    }
    for (const pattern of MOVED_ON) {
      const jobId = pattern.exec(error.message)?.[1];
      if (jobId === undefined || !(this.reported.has(jobId) || this.dropped.has(jobId))) continue;
      this.options.logger.debug({ event: 'job:lock-lost', jobId, via: 'redis', detail: error.message, repeated: true });
      return true;
    }
    const timedOut = error.message === 'Command timed out';
    if (!timedOut && !isConnectionError(error)) return false;
    if (Date.now() - this.lastTimeoutLog >= TIMEOUT_LOG_EVERY_MS) {
      this.lastTimeoutLog = Date.now();
      const silentMs = Date.now() - this.lastContact;
      const event = timedOut ? 'worker:redis-timeout' : 'worker:redis-unreachable';
      this.options.logger.warn({ event, silentMs, partitioned: this.partitioned, err: error }, `${timedOut ? 'A Redis command timed out' : `Redis unreachable: ${error.message}`} (no round trip for ${silentMs} ms)`);
    }
    return true;
  }

  private check(probe: () => void): void {
    const { lockDurationMs, cancels, logger } = this.options;
    const silentMs = Date.now() - this.lastContact;
    if (silentMs > lockDurationMs / 2) probe();
    if (this.partitionedAt !== undefined || silentMs <= lockDurationMs) return;
    this.partitionedAt = this.lastContact;
    const jobIds = cancels.dropAll();
    for (const jobId of jobIds) this.dropped.add(jobId);
    logger.error(
      { event: 'worker:partitioned', silentMs, lockDurationMs, jobIds },
      `No Redis round trip for ${silentMs} ms, longer than the lock (${lockDurationMs} ms): ${jobIds.length} jobs stopped here and dropped, they run again elsewhere`,
    );
  }

  /** Logs the job's lost lock once, and stops it if it still runs here. */
  private lockLost(jobId: string, via: 'partition' | 'redis', detail?: string): void {
    const stopped = via === 'redis' && this.options.cancels.drop(jobId);
    if (this.reported.has(jobId)) {
      this.options.logger.debug({ event: 'job:lock-lost', jobId, via, detail, repeated: true });
      return;
    }
    this.reported.add(jobId);
    if (this.reported.size > REPORTED_MAX) this.reported.delete(this.reported.values().next().value!);
    this.options.logger.warn(
      { event: 'job:lock-lost', jobId, via, ...(detail !== undefined && { detail }), stopped },
      `Job ${jobId}: its lock was lost${via === 'partition' ? ' while cut off from Redis' : ''}; it runs elsewhere, the outcome here is dropped`,
    );
  }
}
