import type { AnyTask } from '../defineTask.ts';
import { RemoteTaskError, ResultTimeoutError } from '../errors.ts';
import { parseTaskOutput } from '../parseTaskIO.ts';
import type { CompletionWatcher } from './completionWatcher.ts';
import type { JobView } from './jobView.ts';

/** Options of {@link TaskHandle.result}. */
export interface ResultOptions {
  /** Give up waiting after this long (the task goes on). Default: wait for ever. */
  timeoutMs?: number;
}

/** What a handle needs from its client. */
export interface HandleHost {
  readonly watcher: CompletionWatcher;
  view(queue: string, jobId: string): Promise<JobView | undefined>;
}

/** A submitted task: a future for its output. */
export class TaskHandle<Out> {
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
   * Waits for the task's output, parsed by its output schema. Rejects with {@link RemoteTaskError} (the remote
   * error's name, message, stack, code and fields) when it failed for good, or {@link ResultTimeoutError}.
   */
  async result(options: ResultOptions = {}): Promise<Out> {
    const signal = options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs);
    let settled;
    try {
      settled = await this.host.watcher.wait(this.queue, this.id, signal);
    } catch (error) {
      if (signal?.aborted && options.timeoutMs !== undefined) throw new ResultTimeoutError(this.id, options.timeoutMs);
      throw error;
    }
    if (settled.state === 'failed') throw new RemoteTaskError(this.id, settled.error, settled.attemptsMade);
    return parseTaskOutput(this.task, settled.value) as Out;
  }

  /** The job's current view in Redis (state, attempts, progress, result or error). */
  async status(): Promise<JobView | undefined> {
    return this.host.view(this.queue, this.id);
  }
}
