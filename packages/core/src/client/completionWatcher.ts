import { Job, QueueEvents, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { jobKey, readJobError } from '../jobRecord.ts';
import type { SerializedError } from '../serializeError.ts';

/** How a job ended. */
export type Settled =
  | { state: 'completed'; value: unknown; attemptsMade: number }
  | { state: 'failed'; error: SerializedError; attemptsMade: number };

interface Waiter {
  resolve: (settled: Settled) => void;
}

/** Options of a {@link CompletionWatcher}. */
export interface CompletionWatcherOptions {
  prefix: string;
  /** Opens a connection for BullMQ's blocking event reader. */
  connect: () => Redis;
  /** Reads a queue, for the state checks. */
  queue: (name: string) => Queue;
  /** Commands (reading the structured error). */
  redis: Redis;
  /** How often jobs still awaited are checked in Redis, whatever the events said. Default: 1000 ms. */
  sweepMs?: number;
}

/**
 * Resolves waiters when their jobs finish. BullMQ's event stream is fast but best-effort (trimmed, lost on
 * reconnect), so the job state kept in Redis is the truth: it is read once when a waiter arrives and then
 * swept periodically while anything is awaited; events only make it quick.
 */
export class CompletionWatcher {
  private readonly events = new Map<string, QueueEvents>();
  private readonly waiting = new Map<string, { queue: string; waiters: Waiter[] }>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: CompletionWatcherOptions) {}

  /** Starts listening to a queue's events; resolves when the listener is connected. */
  async listen(queue: string): Promise<void> {
    if (this.events.has(queue)) return;
    const events = new QueueEvents(queue, { connection: this.options.connect(), prefix: this.options.prefix, autorun: true });
    this.events.set(queue, events);
    events.on('completed', ({ jobId, returnvalue }) => {
      this.settle(jobId, { state: 'completed', value: returnvalue, attemptsMade: -1 });
    });
    events.on('failed', ({ jobId }) => void this.check(queue, jobId));
    events.on('error', () => this.scheduleSweep(0));
    await events.waitUntilReady();
  }

  /** Waits until a job is completed or failed for good; an abort rejects with the signal's reason. */
  async wait(queue: string, jobId: string, signal?: AbortSignal): Promise<Settled> {
    signal?.throwIfAborted();
    await this.listen(queue);
    const settled = new Promise<Settled>((resolve, reject) => {
      const entry = this.waiting.get(jobId) ?? { queue, waiters: [] };
      const waiter: Waiter = { resolve };
      entry.waiters.push(waiter);
      this.waiting.set(jobId, entry);
      signal?.addEventListener(
        'abort',
        () => {
          entry.waiters = entry.waiters.filter((w) => w !== waiter);
          if (entry.waiters.length === 0 && this.waiting.get(jobId) === entry) this.waiting.delete(jobId);
          reject(signal.reason);
        },
        { once: true },
      );
    });
    await this.check(queue, jobId);
    this.scheduleSweep();
    return settled;
  }

  /** Stops listening; pending waits never resolve after this. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.sweepTimer);
    await Promise.all([...this.events.values()].map((e) => e.close()));
    this.events.clear();
  }

  /** Reads the job's state in Redis and settles its waiters if it has finished. */
  private async check(queue: string, jobId: string): Promise<void> {
    if (!this.waiting.has(jobId)) return;
    // State first: a finished job's hash no longer changes, so what is read after it is complete.
    const q = this.options.queue(queue);
    const state = await q.getJobState(jobId);
    if (state !== 'completed' && state !== 'failed') return;
    const job = await Job.fromId(q, jobId);
    if (!job) return;
    if (state === 'completed') {
      this.settle(jobId, { state: 'completed', value: job.returnvalue, attemptsMade: job.attemptsMade });
      return;
    }
    const stack = job.stacktrace?.at(-1);
    const error = (await readJobError(this.options.redis, jobKey(this.options.prefix, queue, jobId))) ?? {
      name: 'Error',
      message: job.failedReason,
      ...(stack !== undefined && { stack }),
    };
    this.settle(jobId, { state: 'failed', error, attemptsMade: job.attemptsMade });
  }

  private settle(jobId: string, settled: Settled): void {
    const entry = this.waiting.get(jobId);
    if (!entry) return;
    this.waiting.delete(jobId);
    for (const waiter of entry.waiters) waiter.resolve(settled);
  }

  private scheduleSweep(delayMs = this.options.sweepMs ?? 1_000): void {
    if (this.closed || (this.sweepTimer && delayMs !== 0)) return;
    clearTimeout(this.sweepTimer);
    this.sweepTimer = setTimeout(() => void this.sweep(), delayMs);
    this.sweepTimer.unref();
  }

  private async sweep(): Promise<void> {
    this.sweepTimer = undefined;
    const pending = [...this.waiting.entries()];
    await Promise.all(pending.map(([jobId, { queue }]) => this.check(queue, jobId).catch(() => undefined)));
    if (this.waiting.size > 0) this.scheduleSweep();
  }
}
