import type { AnyTask } from '../defineTask.ts';
import { JobNotFoundError, ResultTimeoutError } from '../errors.ts';
import { parseTaskOutput } from '../parseTaskIO.ts';
import type { CancelResult } from './cancelTask.ts';
import type { CompletionWatcher, ProgressValue, Settled } from './completionWatcher.ts';
import type { ErrorRegistry } from './errorRegistry.ts';
import type { JobView } from './jobView.ts';

/** Options of {@link TaskHandle.result}. */
export interface ResultOptions {
  /** Give up waiting after this long (the task goes on). Default: wait for ever. */
  timeoutMs?: number;
}

/** How a task ended: its output (parsed by the output schema), or the error `result()` would throw. */
export type Outcome<Out> = { ok: true; value: Out } | { ok: false; error: Error };

/** What a handle needs from its client. */
export interface HandleHost {
  readonly watcher: CompletionWatcher;
  readonly errors: ErrorRegistry;
  view(queue: string, jobId: string): Promise<JobView | undefined>;
  cancel(queue: string, jobId: string): Promise<CancelResult>;
}

/**
 * A submitted task: a future for its output. Once a handle has seen its job finish it keeps the outcome,
 * so `result()`, `settled()` and `onDone()` agree and read Redis no more.
 */
export class TaskHandle<Out> {
  #outcome: Outcome<Out> | undefined;
  readonly #progress = new Map<(value: ProgressValue) => void, () => void>();

  constructor(
    /** The job's id. */
    readonly id: string,
    /** The task it runs. */
    readonly task: AnyTask,
    /** The queue it was sent to. */
    readonly queue: string,
    private readonly host: HandleHost,
  ) {}

  /**
   * Waits for the task's output, parsed by its output schema. Rejects when the job failed for good, with
   * the error class of the failure's reason (see `ErrorRegistry`: `RemoteTaskError`, `TaskTimeoutError`,
   * `CancelledError`, `SandboxCrashError`, `ValidationError`, or a registered class), with
   * `JobNotFoundError` if there is no such job, or with `ResultTimeoutError` after `timeoutMs` (the task
   * goes on: use `cancel()` to stop it).
   */
  async result(options: ResultOptions = {}): Promise<Out> {
    const outcome = await this.settled(options);
    if (outcome.ok) return outcome.value;
    throw outcome.error;
  }

  /** Like {@link result}, but resolves with an {@link Outcome} instead of rejecting when the task failed. */
  async settled(options: ResultOptions = {}): Promise<Outcome<Out>> {
    if (this.#outcome) return this.#outcome;
    const signal = options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs);
    let settled: Settled;
    try {
      settled = await this.host.watcher.wait(this.queue, this.id, signal ? { signal } : {});
    } catch (error) {
      if (signal?.aborted && options.timeoutMs !== undefined) throw new ResultTimeoutError(this.id, options.timeoutMs);
      throw error;
    }
    this.#outcome ??= this.toOutcome(settled);
    return this.#outcome;
  }

  /**
   * Calls `callback` once, in this process, when the task has finished (at once if it already has), with
   * its outcome. Each call registers one more callback. An exception thrown by the callback is not caught
   * (it surfaces as an unhandled rejection). Not called if the client is closed before the task finishes.
   */
  onDone(callback: (outcome: Outcome<Out>) => void): this {
    void this.settled().then(callback, () => undefined);
    return this;
  }

  /**
   * Calls `listener` with each value the handler reports with `ctx.progress()` from now on, until the task
   * finishes; returns the unsubscribe. Progress travels on BullMQ's event stream, so a value may be missed
   * (never the result): `status()` has the latest one.
   */
  onProgress(listener: (value: ProgressValue) => void): () => void {
    if (this.#outcome) return () => undefined;
    const unsubscribe = this.host.watcher.onProgress(this.queue, this.id, listener);
    this.#progress.set(listener, unsubscribe);
    if (this.#progress.size === 1) {
      // Stop listening when the task finishes.
      void this.settled().then(
        () => this.#clearProgress(),
        () => undefined,
      );
    }
    return () => {
      unsubscribe();
      this.#progress.delete(listener);
    };
  }

  /** EventEmitter-style {@link onProgress}. */
  on(event: 'progress', listener: (value: ProgressValue) => void): this {
    if (event === 'progress') this.onProgress(listener);
    return this;
  }

  /** Removes a listener added with {@link on} or {@link onProgress}. */
  off(event: 'progress', listener: (value: ProgressValue) => void): this {
    if (event === 'progress') {
      this.#progress.get(listener)?.();
      this.#progress.delete(listener);
    }
    return this;
  }

  /**
   * Cancels the task: a job that has not started is removed; a running one is aborted by its worker (the
   * handler's `signal` fires, its sandbox is killed after the worker's grace period) and fails with reason
   * `cancelled`, never retried. Either way `result()` then rejects with `CancelledError`. A task that has
   * finished is left alone (`'finished'`).
   */
  async cancel(): Promise<CancelResult> {
    const result = await this.host.cancel(this.queue, this.id);
    if (result === 'removed') this.host.watcher.recheck(this.queue, this.id);
    return result;
  }

  /** The job's current view in Redis (state, attempts, progress, result or error), or undefined if it is gone. */
  async status(): Promise<JobView | undefined> {
    return this.host.view(this.queue, this.id);
  }

  #clearProgress(): void {
    for (const unsubscribe of this.#progress.values()) unsubscribe();
    this.#progress.clear();
  }

  private toOutcome(settled: Settled): Outcome<Out> {
    if (settled.state === 'missing') return { ok: false, error: new JobNotFoundError(this.id) };
    if (settled.state === 'failed') return { ok: false, error: this.host.errors.rebuild(this.id, settled.error, settled.attemptsMade) };
    try {
      return { ok: true, value: parseTaskOutput(this.task, settled.value) as Out };
    } catch (error) {
      return { ok: false, error: error as Error };
    }
  }
}
