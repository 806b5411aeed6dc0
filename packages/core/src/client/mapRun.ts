import type { SubmitOptions } from './jobOptions.ts';
import type { MapBatch, MapExecution, MapProgress } from './mapExecution.ts';
import type { Outcome } from './taskHandle.ts';

/** What `client.map` reads: an array, any iterable, or an async iterable (read lazily, as the window allows). */
export type MapInputs<In> = Iterable<In> | AsyncIterable<In>;

/** Options of `client.map`. */
export interface MapOptions extends Pick<SubmitOptions, 'attempts' | 'backoff' | 'priority' | 'timeoutMs'> {
  /**
   * Inputs per job, or `'auto'`. Above 1, a job is a chunk job (`{ v: 1, kind: 'chunk', text }`, its items' JSON text; see
   * `jobData.ts`) and the worker runs each item on its own, giving one outcome per item; attempts, backoff and
   * `timeoutMs` then apply to the whole chunk job.
   *
   * `'auto'` sizes the chunks as results come in, like joblib's `batch_size='auto'`: it starts at 1 item per
   * job and, from the run time each job reports, doubles the size while a chunk carries under 8 ms of work, and
   * shrinks it when a chunk would take over 16 ms (up to 8,192 items a chunk, and never more than one job's
   * data may hold); see `ChunkSizer`. Tiny tasks so travel thousands per job, and tasks of 10 ms or more one
   * per job. While the size still grows, at most 8 jobs are in flight. When the map's attempts are above 1 or
   * it has a timeout (its own or the task's), `'auto'` sends one item per job, so that each item is retried and
   * timed out on its own. Default: `'auto'`.
   */
  chunkSize?: number | 'auto';
  /** Results in input order (`true`), or as jobs finish (`false`). Default: `true`. */
  ordered?: boolean;
  /**
   * Most jobs in flight: read from the inputs and not yet fully yielded by the iterator (queued, running, or
   * finished and waiting for the loop). Bounds the client's memory to `window × chunkSize` inputs and
   * results, however many inputs there are (with `'auto'`, `window × 8,192` at most). Default:
   * `max(8, ceil(1024 / chunkSize))`; with `'auto'`, the same of the current size, and at most 8 while the
   * size grows.
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
    return itemsOf(this.execution.batches(), this.settledMode) as AsyncIterator<R>;
  }

  /** Every result, in the map's order (rejects with the first failed item's error unless `settled`). */
  async toArray(): Promise<R[]> {
    const out: R[] = [];
    for await (const item of this) out.push(item);
    return out;
  }
}

/**
 * The items of a map's batches, one by one: an item already received is given without awaiting anything
 * (one resolved promise per item, not a generator's steps); the next batch is asked for once the current one
 * is yielded. Unless `settled`, a failed item ends the map (its jobs left are cancelled) and its error is thrown.
 */
function itemsOf(batches: AsyncGenerator<MapBatch, void, undefined>, settled: boolean): AsyncIterator<unknown> {
  let outcomes: Outcome<unknown>[] = [];
  let first = 0;
  let at = 0;
  let ended = false;
  let busy: Promise<unknown> | undefined;
  /** The next item, which is a success or, `settled`, any outcome. */
  const take = (): IteratorResult<unknown> => {
    const outcome = outcomes[at]!;
    const index = first + at++;
    if (!settled) return { done: false, value: (outcome as { value: unknown }).value };
    return { done: false, value: outcome.ok ? { index, ok: true, value: outcome.value } : { index, ok: false, error: outcome.error } };
  };
  const slow = async (): Promise<IteratorResult<unknown>> => {
    while (at >= outcomes.length) {
      if (ended) return { done: true, value: undefined };
      const step = await batches.next();
      if (step.done) {
        ended = true;
        outcomes = [];
        return { done: true, value: undefined };
      }
      ({ first, outcomes } = step.value);
      at = 0;
    }
    const outcome = outcomes[at]!;
    if (settled || outcome.ok) return take();
    ended = true;
    outcomes = [];
    await batches.return();
    throw outcome.error;
  };
  const next = (): Promise<IteratorResult<unknown>> => {
    if (busy) return busy.then(next, next);
    if (at < outcomes.length && (settled || outcomes[at]!.ok)) return Promise.resolve(take());
    const step = slow();
    busy = step;
    const done = (): void => {
      if (busy === step) busy = undefined;
    };
    step.then(done, done);
    return step;
  };
  return {
    next,
    async return() {
      ended = true;
      outcomes = [];
      await batches.return();
      return { done: true, value: undefined };
    },
  };
}