import type { AnyTask } from '../defineTask.ts';
import { JobNotFoundError } from '../errors.ts';
import type { Ref } from '../objects/objectRef.ts';
import { outputRefOf, resolveJobOutput } from '../store/jobData.ts';
import type { CancelResult } from './cancelTask.ts';
import type { CompletionWatcher, ProgressValue, Settled } from './completionWatcher.ts';
import type { ErrorRegistry } from './errorRegistry.ts';
import { JobFuture, type Outcome, type ResultOptions } from './jobFuture.ts';
import type { JobView } from './jobView.ts';

export type { Outcome, ResultOptions } from './jobFuture.ts';

/** What a handle needs from its client. */
export interface HandleHost {
  readonly watcher: CompletionWatcher;
  readonly errors: ErrorRegistry;
  view(queue: string, jobId: string): Promise<JobView | undefined>;
  cancel(queue: string, jobId: string): Promise<CancelResult>;
  /** Reads an output carried by reference (the claim check). */
  getObject(ref: Ref): Promise<unknown>;
}

/**
 * A submitted task: a future for its output (as the task's output schema gave it in the sandbox). `result()` rejects when the
 * job failed for good, with the error class of the failure's reason (see `ErrorRegistry`: `RemoteTaskError`,
 * `TaskTimeoutError`, `CancelledError`, `SandboxCrashError`, `ValidationError`, or a registered class), with
 * `JobNotFoundError` if there is no such job, or with `ResultTimeoutError` after `timeoutMs`.
 */
export class TaskHandle<Out> extends JobFuture<Out> {
  readonly #progress = new Map<(value: ProgressValue) => void, () => void>();

  constructor(
    id: string,
    /** The task it runs. */
    readonly task: AnyTask,
    queue: string,
    private readonly host: HandleHost,
  ) {
    super(id, queue, host.watcher);
  }

  /**
   * Calls `listener` with each value the handler reports with `ctx.progress()` from now on, until the task
   * finishes; returns the unsubscribe. Progress travels on BullMQ's event stream, so a value may be missed
   * (never the result): `status()` has the latest one.
   */
  onProgress(listener: (value: ProgressValue) => void): () => void {
    if (this.finished) return () => undefined;
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
   * `cancelled`, never retried. Either way `result()` then rejects with `CancelledError`, unless a running
   * task finished first (`'signalled'` does not say which; `result()` does). A task that has finished is left
   * alone and its result kept: `'completed'` or `'failed'`.
   */
  async cancel(): Promise<CancelResult> {
    const result = await this.host.cancel(this.queue, this.id);
    if (result === 'removed') this.host.watcher.recheck(this.queue, this.id);
    return result;
  }

  /**
   * Waits like {@link result}, and gives the reference to the output when it went by reference (an output over the
   * inline limit, the claim check) without reading it: hand it to another task's `objectRef<T>()` field, or read
   * it later with `client.get(ref)`. Undefined when the output was small enough to travel in the job (use
   * `result()`). Rejects as `result()` does when the job failed.
   */
  async outputRef(options: ResultOptions = {}): Promise<Ref<Out> | undefined> {
    const settled = await this.waitSettled(options);
    // A failed or missing job's outcome is its error.
    if (settled.state !== 'completed') throw ((await this.toOutcome(settled)) as { error: Error }).error;
    return outputRefOf(settled.value) as Ref<Out> | undefined;
  }

  /** The job's current view in Redis (state, attempts, progress, result or error), or undefined if it is gone. */
  async status(): Promise<JobView | undefined> {
    return this.host.view(this.queue, this.id);
  }

  #clearProgress(): void {
    for (const unsubscribe of this.#progress.values()) unsubscribe();
    this.#progress.clear();
  }

  protected async toOutcome(settled: Settled): Promise<Outcome<Out>> {
    if (settled.state === 'missing') return { ok: false, error: new JobNotFoundError(this.id) };
    if (settled.state === 'failed') return { ok: false, error: this.host.errors.rebuild(this.id, settled.error, settled.attemptsMade) };
    // Parsed once, in the sandbox: the stored output is decoded (read first when it was stored by reference), not parsed again.
    try {
      return { ok: true, value: (await resolveJobOutput(settled.value, (ref) => this.host.getObject(ref))) as Out };
    } catch (error) {
      return { ok: false, error: error as Error };
    }
  }
}
