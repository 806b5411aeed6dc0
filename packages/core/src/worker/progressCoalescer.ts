/** A value a handler reports with `ctx.progress()`. */
type ProgressValue = number | object;

/** Options of a {@link ProgressCoalescer}. */
export interface ProgressCoalescerOptions {
  /** Stores one value (`job.updateProgress`: one Redis write and one event in the queue's stream). */
  send: (value: ProgressValue) => Promise<unknown>;
  /** Least time between two sends, ms. Default: {@link PROGRESS_INTERVAL_MS} (10 a second). */
  intervalMs?: number;
}

/** Least time between two progress updates of one job, ms: at most 10 a second reach Redis. */
export const PROGRESS_INTERVAL_MS = 100;

/**
 * Coalesces one job's progress reports so a handler calling `ctx.progress()` thousands of times a second
 * writes a bounded number of updates (one per `intervalMs`), and cannot push other jobs' events out of the
 * queue's trimmed event stream (BullMQ keeps about 10,000). The first value goes at once; values reported
 * within an interval replace each other and the latest goes when the interval ends; {@link flush} sends the
 * pending one at once and waits, so the last value is always stored before the job's completion. Sends run
 * one after the other, in order; a failed send is dropped (progress is advisory).
 */
export class ProgressCoalescer {
  private readonly intervalMs: number;
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private pending: { value: ProgressValue } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: ProgressCoalescerOptions) {
    this.intervalMs = options.intervalMs ?? PROGRESS_INTERVAL_MS;
  }

  /** Reports a value; ignored after {@link flush}. */
  push(value: ProgressValue): void {
    if (this.closed) return;
    const wait = this.lastSentAt + this.intervalMs - Date.now();
    if (wait <= 0 && !this.timer) {
      this.send(value);
      return;
    }
    this.pending = { value };
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.sendPending();
    }, Math.max(0, wait));
  }

  /** Sends the pending value now, waits until every send has finished, and ignores later reports. */
  async flush(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.sendPending();
    await this.chain;
  }

  private sendPending(): void {
    const pending = this.pending;
    this.pending = undefined;
    if (pending) this.send(pending.value);
  }

  private send(value: ProgressValue): void {
    this.lastSentAt = Date.now();
    this.chain = this.chain.then(() => this.options.send(value)).then(
      () => undefined,
      () => undefined,
    );
  }
}
