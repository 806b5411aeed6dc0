import type { SubmitOptions } from './jobOptions.ts';
import type { MapExecution, MapItem, MapProgress } from './mapExecution.ts';

/** What `client.map` reads: an array, any iterable, or an async iterable (read lazily, as the window allows). */
export type MapInputs<In> = Iterable<In> | AsyncIterable<In>;

/** Options of `client.map`. */
export interface MapOptions extends Pick<SubmitOptions, 'attempts' | 'backoff' | 'priority' | 'timeoutMs'> {
  /**
   * Inputs per job. Above 1, a job's data is `{ $chunk: inputs }` and the worker runs each item on its own
   * (see `chunkEnvelope.ts`); attempts, backoff and `timeoutMs` then apply to the whole chunk job. Default: 1.
   */
  chunkSize?: number;
  /** Results in input order (`true`), or as jobs finish (`false`). Default: `true`. */
  ordered?: boolean;
  /**
   * Most jobs in flight: read from the inputs and not yet fully yielded by the iterator (queued, running, or
   * finished and waiting for the loop). Bounds the client's memory to `window × chunkSize` inputs and
   * results, however many inputs there are. Default: `max(8, ceil(1024 / chunkSize))`.
   */
  window?: number;
  /** Yield `{ index, ok, value | error }` records, never throwing for a failed item. Default: `false`. */
  settled?: boolean;
  /** Called each time a job finishes, with the map's progress. */
  onProgress?: (progress: MapProgress) => void;
  /** Stops the map: its jobs still queued or running are cancelled and the iterator throws the signal's reason. */
  signal?: AbortSignal;
}

/**
 * A map of a task over many inputs: an async iterable of its results, started by the first iteration
 * (nothing is read or submitted before). It can be iterated once.
 *
 * Each input succeeds or fails on its own, chunked or not. By default the iterator yields outputs and
 * throws at the first failed item (in the order results are yielded) the error `handle.result()` would
 * throw (`RemoteTaskError`, `ValidationError` for an invalid input, which is never submitted, ...); with
 * `{ settled: true }` it yields `{ index, ok: true, value }` / `{ index, ok: false, error }` for every item
 * and never throws for one. `index` is the input's position.
 *
 * Leaving the loop early (`break`, a throw, an item's error, the signal) cancels the map's jobs still queued
 * or running. If the inputs' iterator throws, the map throws that error after the items read before it.
 * If Redis stays unreachable while jobs are added for 30 s (or `submitRetryMs`, if longer), the map throws
 * `RedisUnavailableError`. Results never depend on BullMQ's events alone (see `CompletionWatcher`), so a
 * dropped connection loses none.
 */
export class MapRun<R> implements AsyncIterable<R> {
  #started = false;
  readonly #listeners = new Set<(progress: MapProgress) => void>();

  /** @internal Made by `client.map`. */
  constructor(
    private readonly execution: MapExecution,
    private readonly settledMode: boolean,
  ) {}

  /** The progress so far. */
  get progress(): MapProgress {
    return this.execution.snapshot;
  }

  /** Calls `listener` each time a job finishes, with `{ done, failed, total? }`. */
  on(event: 'progress', listener: (progress: MapProgress) => void): this {
    if (event === 'progress') this.#listeners.add(listener);
    return this;
  }

  /** Removes a listener added with {@link on}. */
  off(event: 'progress', listener: (progress: MapProgress) => void): this {
    if (event === 'progress') this.#listeners.delete(listener);
    return this;
  }

  /** @internal The execution's progress callback. */
  emitProgress(progress: MapProgress): void {
    for (const listener of this.#listeners) listener(progress);
  }

  [Symbol.asyncIterator](): AsyncIterator<R> {
    if (this.#started) throw new TypeError('A map can be iterated once');
    this.#started = true;
    const items = this.execution.items();
    return (this.settledMode ? items : unwrap(items)) as AsyncIterator<R>;
  }

  /** Every result, in the map's order (rejects with the first failed item's error unless `settled`). */
  async toArray(): Promise<R[]> {
    const out: R[] = [];
    for await (const item of this) out.push(item);
    return out;
  }
}

async function* unwrap(items: AsyncGenerator<MapItem<unknown>, void, undefined>): AsyncGenerator<unknown, void, undefined> {
  for await (const item of items) {
    if (!item.ok) throw item.error;
    yield item.value;
  }
}
