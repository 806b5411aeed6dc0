import type { Queue } from 'bullmq';
import { ClientClosedError } from '../errors.ts';
import type { RedisClient } from '../redisConnection.ts';
import { QueueEventReader, type QueueEvent } from '../store/queueEventReader.ts';
import { readJobStates, type JobRef, type Settled } from '../store/readJobStates.ts';

export type { Settled } from '../store/readJobStates.ts';

/** A progress value a handler reported with `ctx.progress()`. */
export type ProgressValue = number | object;

/** Options of {@link CompletionWatcher.wait}. */
export interface WaitOptions {
  /** Stops waiting: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * The add of this job, under way: until it settles a missing job is not final, and no first read is
   * made (the caller has awaited `listen(queue)` before adding, so the job's events cannot be missed).
   */
  adding?: Promise<unknown>;
}

/** Options of a {@link CompletionWatcher}. */
export interface CompletionWatcherOptions {
  /** Opens a connection for a queue's blocking event reader (one per queue, retrying for ever); the watcher closes it. */
  connect: () => RedisClient;
  /** A queue, for its key names. */
  queue: (name: string) => Queue;
  /** Commands: the pipelined state reads. */
  redis: RedisClient;
  /** How often jobs still awaited are read in Redis when no event says they may have been missed. Default: 5000 ms. */
  sweepMs?: number;
  /** Most jobs one sweep reads, round robin over those awaited, in one pipeline. Default: 2000. */
  sweepBatch?: number;
}

interface Entry extends JobRef {
  waiters: Set<Waiter>;
  /** Adds of the job under way. */
  adding: number;
}

/** One `wait()`: settled with the job's end, or failed when the client closes. */
interface Waiter {
  settle(settled: Settled): void;
  fail(error: Error): void;
}

interface Reader {
  reader: QueueEventReader;
  ready: Promise<void>;
}

/** Most jobs read in one pipeline when checking those just awaited or named by an event. */
const CHECK_BATCH = 1_000;
/** Most jobs watched at once (see {@link CompletionWatcher.watch}); the oldest are forgotten first. */
const WATCH_LIMIT = 10_000;

/**
 * Resolves waiters when their jobs finish. BullMQ's event stream is fast but best-effort (trimmed to ~10,000
 * events, and a reader that was away may find the events it missed trimmed), so the job state kept in Redis
 * is the truth: it is read when a waiter arrives, when an event names the job, and for every awaited job
 * whenever events may have been missed (the event reader reconnected, a read failed, or the reader found the
 * stream trimmed past its position). A slow sweep every `sweepMs` also reads awaited jobs, for the changes
 * no event reports (a job deleted by hand, a flushed Redis). Reads are batched: one pipeline per batch of jobs
 * (see `readJobStates.ts`), and a sweep reads at most `sweepBatch` jobs, the least recently read first, so a
 * client awaiting many thousands of jobs costs Redis a bounded amount per second.
 */
export class CompletionWatcher {
  private readonly readers = new Map<string, Reader>();
  /** Queues whose reader is reading. */
  private readonly listening = new Set<string>();
  /** Jobs added while their queue's reader was reading, and of which no event has been seen (see {@link watch}). */
  private readonly watched = new Set<string>();
  private readonly entries = new Map<string, Entry>();
  private readonly due = new Set<string>();
  private readonly progress = new Map<string, Set<(value: ProgressValue) => void>>();
  /** The last progress value given to a job's listeners (JSON), while it has listeners. */
  private readonly lastProgress = new Map<string, string>();
  private checking = false;
  private sweepTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: CompletionWatcherOptions) {}

  /**
   * Starts reading a queue's events; resolves once the reader is connected. It reads from the stream's last
   * entry at the time of the call, so no event written after `listen()` resolved can be missed (unless trimmed).
   */
  listen(queue: string): Promise<void> {
    let reader = this.readers.get(queue);
    if (!reader) {
      reader = this.openReader(queue);
      this.readers.set(queue, reader);
    }
    return reader.ready;
  }

  /**
   * Call before adding a job that may be awaited later: if the queue's reader is reading already (it is not
   * started here, so a client that never awaits opens no reader), no event of the job can be missed from now
   * on, and until one is seen (or events may have been missed) the job is known unfinished, so a later
   * {@link wait} needs no first read. Returns false when the queue is not read yet. At most 10,000 jobs are
   * watched, the oldest forgotten first (a wait of a forgotten job reads it, as usual).
   */
  watch(queue: string, jobId: string): boolean {
    if (this.closed || !this.listening.has(queue)) return false;
    const id = keyOf(queue, jobId);
    this.watched.add(id);
    if (this.watched.size > WATCH_LIMIT) this.watched.delete(this.watched.values().next().value!);
    return true;
  }

  /** Forgets a {@link watch} (the add failed). */
  unwatch(queue: string, jobId: string): void {
    this.watched.delete(keyOf(queue, jobId));
  }

  /** Waits until a job is completed or failed for good, or is found missing. */
  wait(queue: string, jobId: string, options: WaitOptions = {}): Promise<Settled> {
    const { signal, adding } = options;
    if (this.closed) return Promise.reject(new ClientClosedError());
    signal?.throwIfAborted();
    const id = keyOf(queue, jobId);
    let entry = this.entries.get(id);
    if (!entry) {
      entry = { queue, jobId, waiters: new Set(), adding: 0 };
      this.entries.set(id, entry);
    }
    const target = entry;
    const settled = new Promise<Settled>((resolve, reject) => {
      const onAbort = (): void => {
        target.waiters.delete(waiter);
        if (target.waiters.size === 0 && this.entries.get(id) === target) this.entries.delete(id);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        settle: (value) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(value);
        },
        fail: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      target.waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    if (adding) {
      target.adding++;
      const done = (): void => {
        target.adding--;
      };
      adding.then(done, done);
    } else if (this.watched.delete(id)) {
      // Watched since before its add and no event seen: unfinished, and its events will come.
    } else {
      this.listen(queue).then(
        () => this.markDue(id),
        () => this.markDue(id),
      );
    }
    this.scheduleSweep();
    return settled;
  }

  /** Calls `listener` with each progress value a job reports from now on (events are best-effort); returns the unsubscribe. */
  onProgress(queue: string, jobId: string, listener: (value: ProgressValue) => void): () => void {
    const id = keyOf(queue, jobId);
    let listeners = this.progress.get(id);
    if (!listeners) {
      listeners = new Set();
      this.progress.set(id, listeners);
    }
    listeners.add(listener);
    this.listen(queue).catch(() => undefined);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0 && this.progress.get(id) === listeners) {
        this.progress.delete(id);
        this.lastProgress.delete(id);
      }
    };
  }

  /** Drops every wait of a job (they never settle): cheaper for a map's many jobs than an abort signal each. */
  release(queue: string, jobId: string): void {
    const id = keyOf(queue, jobId);
    this.entries.delete(id);
    this.due.delete(id);
  }

  /** Reads a job's state soon (batched with others), e.g. after cancelling it. */
  recheck(queue: string, jobId: string): void {
    this.markDue(keyOf(queue, jobId));
  }

  /** Stops listening and ends the event readers' connections; pending waits reject with `ClientClosedError`. */
  close(): void {
    this.closed = true;
    const error = new ClientClosedError();
    for (const entry of this.entries.values()) for (const waiter of entry.waiters) waiter.fail(error);
    this.entries.clear();
    this.due.clear();
    this.watched.clear();
    this.listening.clear();
    clearTimeout(this.sweepTimer);
    for (const { reader } of this.readers.values()) reader.close();
    this.readers.clear();
  }

  private openReader(queue: string): Reader {
    const connection = this.options.connect();
    const reader = new QueueEventReader({
      connection,
      key: this.options.queue(queue).toKey('events'),
      onEvent: (event) => this.onEvent(queue, event),
      onMissedEvents: () => this.recheckAll(),
    });
    const ready = reader.start().then(() => {
      if (!this.closed) this.listening.add(queue);
      // After a reconnect, events written while away may have been trimmed: read every awaited job now.
      connection.on('ready', () => this.recheckAll());
    });
    const entry: Reader = { reader, ready };
    ready.catch(() => {
      reader.close();
      if (this.readers.get(queue) === entry) this.readers.delete(queue);
    });
    return entry;
  }

  private onEvent(queue: string, event: QueueEvent): void {
    const id = keyOf(queue, event.jobId);
    // Not awaited yet: a wait to come must read the job (it may have finished).
    if (event.event !== 'progress' && this.watched.size > 0) this.watched.delete(id);
    switch (event.event) {
      case 'completed':
        // Parsed only for a job awaited here: the stream carries every client's jobs.
        if (this.entries.has(id)) this.settle(id, { state: 'completed', value: parseJson(event.returnvalue), attemptsMade: -1 });
        break;
      case 'progress':
        if (this.progress.has(id)) this.emitProgress(id, parseJson(event.data) as ProgressValue);
        break;
      default:
        // A failure may be retried and a removal may be a cancel: read the job to know.
        this.markDue(id);
    }
  }

  private emitProgress(id: string, value: ProgressValue): void {
    this.lastProgress.set(id, JSON.stringify(value));
    for (const listener of this.progress.get(id) ?? []) listener(value);
  }

  private settle(id: string, settled: Settled, finalProgress?: ProgressValue): void {
    // Settled from a state read, the job's last progress may still be on its way in the event stream: give it
    // to the listeners now, since they are dropped with the settle (unless they have seen it already).
    if (finalProgress !== undefined && this.progress.has(id) && this.lastProgress.get(id) !== JSON.stringify(finalProgress)) {
      this.emitProgress(id, finalProgress);
    }
    this.lastProgress.delete(id);
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    this.due.delete(id);
    this.progress.delete(id);
    for (const waiter of entry.waiters) waiter.settle(settled);
  }

  private markDue(id: string): void {
    if (this.closed || !this.entries.has(id)) return;
    this.due.add(id);
    this.scheduleCheck();
  }

  /** Reads every awaited job soon (events may have been missed), in batches like any due read. */
  private recheckAll(): void {
    // A watched job's events may be among those missed: its wait must read it.
    this.watched.clear();
    if (this.closed || this.entries.size === 0) return;
    for (const id of this.entries.keys()) this.due.add(id);
    this.scheduleCheck();
  }

  private scheduleCheck(): void {
    if (!this.checking) setImmediate(() => void this.checkDue());
  }

  /** Reads every due job, one pipeline per {@link CHECK_BATCH}. */
  private async checkDue(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      while (this.due.size > 0 && !this.closed) {
        const batch: string[] = [];
        for (const id of this.due) {
          if (batch.length >= CHECK_BATCH) break;
          batch.push(id);
        }
        for (const id of batch) this.due.delete(id);
        await this.check(batch).catch(() => this.scheduleSweep());
      }
    } finally {
      this.checking = false;
    }
  }

  private async check(ids: string[]): Promise<void> {
    const refs = ids.flatMap((id) => {
      const entry = this.entries.get(id);
      return entry ? [entry] : [];
    });
    if (refs.length === 0) return;
    const states = await readJobStates(this.options.redis, this.options.queue, refs);
    refs.forEach((entry, i) => {
      const state = states[i];
      if (!state || state.state === 'pending') return;
      if (state.state === 'missing' && entry.adding > 0) return;
      const { progress, ...settled } = state as Settled & { progress?: ProgressValue };
      this.settle(keyOf(entry.queue, entry.jobId), settled as Settled, progress);
    });
  }

  private scheduleSweep(): void {
    if (this.closed || this.entries.size === 0 || this.sweepTimer) return;
    this.sweepTimer = setTimeout(() => void this.sweep(), this.options.sweepMs ?? 5_000);
    this.sweepTimer.unref();
  }

  private async sweep(): Promise<void> {
    this.sweepTimer = undefined;
    const limit = this.options.sweepBatch ?? 2_000;
    const batch: string[] = [];
    for (const id of this.entries.keys()) {
      if (batch.length >= limit) break;
      batch.push(id);
    }
    // Round robin: the entries read now go to the end of the map's order.
    for (const id of batch) {
      const entry = this.entries.get(id);
      if (!entry) continue;
      this.entries.delete(id);
      this.entries.set(id, entry);
    }
    await this.check(batch).catch(() => undefined);
    this.scheduleSweep();
  }
}

function keyOf(queue: string, jobId: string): string {
  return `${queue}\n${jobId}`;
}

/** As BullMQ reads a return value or progress: JSON, or the raw string if it is not JSON. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
