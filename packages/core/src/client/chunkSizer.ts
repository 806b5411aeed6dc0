/** The work one chunk should carry, in ms of the worker's run time (see {@link ChunkSizer}). */
export const AUTO_TARGET_MS = 8;
/** The most items one automatically sized chunk holds, whatever the measurements say. */
export const AUTO_MAX_CHUNK = 8_192;

/** Measurements kept: an item's time is the least of the last few, as a busy machine only ever adds time. */
const SAMPLES = 4;
/** Measurements needed before the size is taken as settled (see {@link ChunkSizer.growing}). */
const SETTLED_AFTER = 3;

/**
 * How `map` sizes its chunks with `chunkSize: 'auto'`, as joblib's `batch_size='auto'` does. Each finished job
 * reports how many items it ran and how long its run took in the worker (`runMs` of the job's result envelope:
 * decode, parse, handlers, parse, encode). An item's time is taken as the least per-item time of the last 4
 * reports: run times are wall times, and a worker that shares its cores (GC, other processes, a cold start)
 * only ever takes longer, so the least is the steadiest measure of the work. From it and the current size:
 * - starting at 1 item per job, the size doubles (at most; less if fewer items reach the target) each time a
 *   job of the current size or larger reports, while such a chunk would carry under {@link AUTO_TARGET_MS}
 *   (8 ms), up to {@link AUTO_MAX_CHUNK} items;
 * - it shrinks, to the items that fit in the target (at least 1), when a chunk would take over twice the
 *   target even by the least of the last 4 reports (the tasks got slower, not one run);
 * - a report of a job smaller than the current size never grows it.
 * So tiny tasks travel thousands per job, and tasks of 10 ms or more one per job. Until 3 reports have
 * arrived, and while the size still grows, {@link growing} is true: the map keeps few jobs in flight then, so
 * that most jobs are sent at a measured size. A job without `runMs` (a worker older than the client) reports
 * nothing: the size stays at 1.
 */
export class ChunkSizer {
  #size = 1;
  #max: number;
  /** Per-item times (ms) of the last reports, oldest first. */
  readonly #samples: number[] = [];

  constructor(
    private readonly targetMs = AUTO_TARGET_MS,
    maxSize = AUTO_MAX_CHUNK,
  ) {
    this.#max = maxSize;
  }

  /** Items of the next chunk. */
  get size(): number {
    return this.#size;
  }

  /** True until 3 jobs have reported, then while a chunk of the current size carries less than the target (below the cap). */
  get growing(): boolean {
    if (this.#samples.length < SETTLED_AFTER) return true;
    return this.#size < this.#max && this.#itemMs() * this.#size < this.targetMs;
  }

  /** Caps the size below `count` items for good (a chunk of `count` did not fit in one job's data). */
  capBelow(count: number): void {
    this.#max = Math.max(1, Math.min(this.#max, count - 1));
    this.#size = Math.min(this.#size, this.#max);
  }

  /** A job of `count` items ran in `runMs` ms in the worker. */
  report(count: number, runMs: number): void {
    if (!(count > 0) || !(runMs >= 0) || !Number.isFinite(runMs)) return;
    this.#samples.push(runMs / count);
    if (this.#samples.length > SAMPLES) this.#samples.shift();
    const itemMs = this.#itemMs();
    const estimate = itemMs * this.#size;
    if (estimate > 2 * this.targetMs && this.#samples.length >= SETTLED_AFTER) {
      this.#size = Math.max(1, Math.floor(this.targetMs / itemMs));
    } else if (count >= this.#size && estimate < this.targetMs) {
      const fits = itemMs > 0 ? Math.ceil(this.targetMs / itemMs) : Infinity;
      this.#size = Math.min(this.#max, 2 * this.#size, Math.max(this.#size, fits));
    }
  }

  #itemMs(): number {
    return Math.min(...this.#samples);
  }
}
