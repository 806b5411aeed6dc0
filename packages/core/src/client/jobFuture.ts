import { ResultTimeoutError } from '../errors.ts';
import type { CompletionWatcher, Settled } from './completionWatcher.ts';

/** Options of {@link JobFuture.result}. */
export interface ResultOptions {
  /** Give up waiting after this long (the job goes on). Default: wait for ever. */
  timeoutMs?: number;
}

/** How a job ended: its output, or the error `result()` would throw. */
export type Outcome<Out> = { ok: true; value: Out } | { ok: false; error: Error };

/**
 * A future for the output of one job (a task's, or a workflow's root): once it has seen the job finish it
 * keeps the outcome, so `result()`, `settled()` and `onDone()` agree and read Redis no more.
 */
export abstract class JobFuture<Out> {
  #outcome: Outcome<Out> | undefined;

  constructor(
    /** The job's id. */
    readonly id: string,
    /** Its queue. */
    readonly queue: string,
    private readonly watcher: CompletionWatcher,
  ) {}

  /**
   * Waits for the output. Rejects with the error of the failure (see the subclass), or with
   * `ResultTimeoutError` after `timeoutMs` (the job goes on: cancel it to stop it).
   */
  async result(options: ResultOptions = {}): Promise<Out> {
    const outcome = await this.settled(options);
    if (outcome.ok) return outcome.value;
    throw outcome.error;
  }

  /** Like {@link result}, but resolves with an {@link Outcome} instead of rejecting when the job failed. */
  async settled(options: ResultOptions = {}): Promise<Outcome<Out>> {
    if (this.#outcome) return this.#outcome;
    const outcome = await this.toOutcome(await this.waitSettled(options));
    this.#outcome ??= outcome;
    return this.#outcome;
  }

  /**
   * Calls `callback` once, in this process, when the job has finished (at once if it already has), with its
   * outcome. Each call registers one more callback. An exception thrown by the callback is not caught (it
   * surfaces as an unhandled rejection). Not called if the client is closed before the job finishes.
   */
  onDone(callback: (outcome: Outcome<Out>) => void): this {
    void this.settled().then(callback, () => undefined);
    return this;
  }

  /** How the job ended, as stored (its output not decoded, nor read when it went by reference). */
  protected async waitSettled(options: ResultOptions): Promise<Settled> {
    const signal = options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs);
    try {
      return await this.watcher.wait(this.queue, this.id, signal ? { signal } : {});
    } catch (error) {
      if (signal?.aborted && options.timeoutMs !== undefined) throw new ResultTimeoutError(this.id, options.timeoutMs);
      throw error;
    }
  }

  /** True once this future has seen its job finish. */
  protected get finished(): boolean {
    return this.#outcome !== undefined;
  }

  /** The outcome of a finished job. */
  protected abstract toOutcome(settled: Settled): Outcome<Out> | Promise<Outcome<Out>>;
}
