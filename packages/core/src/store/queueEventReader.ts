import { setTimeout as delay } from 'node:timers/promises';
import type { RedisClient } from '../redisConnection.ts';

/** The events of a queue the client acts on. */
export type QueueEvent =
  | { event: 'completed'; jobId: string; returnvalue: string }
  | { event: 'failed' | 'removed'; jobId: string }
  | { event: 'progress'; jobId: string; data: string };

/** Options of {@link QueueEventReader}. */
export interface QueueEventReaderOptions {
  /** A connection of its own (it blocks); the reader closes it. It should retry for ever (role `worker`). */
  connection: RedisClient;
  /** The queue's event stream (`<prefix>:<queue>:events`). */
  key: string;
  onEvent: (event: QueueEvent) => void;
  /**
   * Events may have been missed: a read failed (connection lost; events may be trimmed before the reader is
   * back), or the stream was found trimmed past the reader's position (it fell more than BullMQ's ~10,000
   * events behind).
   */
  onMissedEvents: () => void;
}

/** Entries per XREAD at most. */
const COUNT = 2_000;
const BLOCK_MS = 5_000;
/** Above this rate, the reader pauses between reads so each read returns a batch, not an event or two. */
const BUSY_EVENTS_PER_S = 5_000;
const BUSY_PAUSE_MS = 2;

/**
 * Reads BullMQ's event stream of one queue (instead of BullMQ's `QueueEvents`, which parses and emits every
 * event twice, waits 5 s after a connection error, and leaves a connection it was given open). It starts
 * after the stream's last entry at `start()`, so no event written after `start()` resolved is missed unless
 * the stream was trimmed past it, and it tells when that happened: each read also reads the stream's first
 * entry, and one past the reader's position means entries may have been trimmed unread. It decodes only the
 * events the client acts on. Under a high event rate (a large map) it pauses 2 ms between reads, which turns
 * thousands of tiny reads a second into a few hundred batches; an idle stack never pauses, so one task's
 * result is not delayed.
 */
export class QueueEventReader {
  private lastId = '0-0';
  private closed = false;
  private recent = { since: 0, events: 0, rate: 0 };

  constructor(private readonly options: QueueEventReaderOptions) {}

  /** Finds the stream's position, then reads in the background until {@link close}. */
  async start(): Promise<void> {
    const [last] = await this.options.connection.xrevrange(this.options.key, '+', '-', 'COUNT', 1);
    this.lastId = last?.[0] ?? '0-0';
    void this.loop();
  }

  /** Stops reading and ends the connection. */
  close(): void {
    this.closed = true;
    this.options.connection.disconnect();
  }

  private async loop(): Promise<void> {
    const { connection, key } = this.options;
    while (!this.closed) {
      const from = this.lastId;
      let entries: [string, string[]][];
      let first: string | undefined;
      try {
        // The stream's first entry, read right after the XREAD in the same round trip: if it is past `from`,
        // entries after `from` may have been trimmed before this read could return them.
        const replies = await connection.pipeline().xread('COUNT', COUNT, 'BLOCK', BLOCK_MS, 'STREAMS', key, from).xrange(key, '-', '+', 'COUNT', 1).exec();
        const [[readError, reply], [rangeError, range]] = replies as [[Error | null, XReadReply], [Error | null, [string, string[]][]]];
        if (readError || rangeError) throw readError ?? rangeError;
        entries = reply?.[0]?.[1] ?? [];
        first = range[0]?.[0];
      } catch {
        if (this.closed) return;
        this.options.onMissedEvents();
        await delay(100);
        continue;
      }
      for (const [id, fields] of entries) {
        this.lastId = id;
        const event = decode(fields);
        if (event) this.options.onEvent(event);
      }
      // From '0-0' (the stream was empty at start) a gap can't be told from the stream's own beginning.
      if (first !== undefined && from !== '0-0' && compareIds(first, from) > 0) this.options.onMissedEvents();
      if (this.busy(entries.length)) await delay(BUSY_PAUSE_MS);
    }
  }

  /** True while events arrive faster than {@link BUSY_EVENTS_PER_S} (measured over 100 ms windows). */
  private busy(count: number): boolean {
    const now = performance.now();
    this.recent.events += count;
    if (now - this.recent.since >= 100) {
      this.recent.rate = (this.recent.events * 1000) / (now - this.recent.since);
      this.recent = { since: now, events: 0, rate: this.recent.rate };
    }
    return this.recent.rate > BUSY_EVENTS_PER_S;
  }
}

type XReadReply = [string, [string, string[]][]][] | null;

/** Compares two stream ids (`<ms>-<seq>`) in stream order. */
function compareIds(a: string, b: string): number {
  const [aMs = 0, aSeq = 0] = a.split('-').map(Number);
  const [bMs = 0, bSeq = 0] = b.split('-').map(Number);
  return aMs - bMs || aSeq - bSeq;
}

/** An entry's fields (`event`, `jobId`, ...) as a {@link QueueEvent}, or undefined for the events the client ignores. */
function decode(fields: string[]): QueueEvent | undefined {
  const get = (name: string): string | undefined => {
    for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
    return undefined;
  };
  const event = get('event');
  if (event !== 'completed' && event !== 'failed' && event !== 'removed' && event !== 'progress') return undefined;
  const jobId = get('jobId');
  if (jobId === undefined) return undefined;
  if (event === 'completed') return { event, jobId, returnvalue: get('returnvalue') ?? 'null' };
  if (event === 'progress') return { event, jobId, data: get('data') ?? 'null' };
  return { event, jobId };
}
