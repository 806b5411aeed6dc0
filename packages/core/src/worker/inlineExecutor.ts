import type { AnyTask } from '../defineTask.ts';
import type { Ref } from '../objects/objectRef.ts';
import type { TaskObjects } from '../objects/taskObjects.ts';

export type { TaskObjects } from '../objects/taskObjects.ts';
import { AttemptFailure } from './attemptFailure.ts';
import { runTask, type RunInput, type RunOutcome } from './runTask.ts';
import type { AbortReason, SandboxRequest } from './sandboxProcess.ts';

/** Where a job runs: a sandbox process, or a slot of the worker's own event loop. */
export interface TaskSlot {
  readonly pid: number;
  run(request: SandboxRequest): Promise<unknown>;
  abort(reason: AbortReason): void;
}

/** Hands out slots to run jobs in. */
export interface Executor {
  /** `solo`: a slot alone in its process (see `SandboxPool`); the inline executor's slots always are. */
  acquire(options?: { solo?: boolean }): Promise<TaskSlot>;
  release(slot: TaskSlot): void;
}

/**
 * Runs `inline` tasks on the worker's own event loop (for I/O-bound tasks that want hundreds of concurrent
 * jobs without hundreds of processes). Timeouts and cancels are cooperative: the handler's `signal` fires
 * and the attempt fails at once, but a handler that ignores its signal keeps running; there is no memory cap.
 */
export class InlineExecutor implements Executor {
  constructor(
    private readonly tasks: ReadonlyMap<string, AnyTask>,
    private readonly objects: TaskObjects,
  ) {}

  acquire(): Promise<TaskSlot> {
    return Promise.resolve(new InlineSlot(this.tasks, this.objects));
  }

  release(): void {}
}

class InlineSlot implements TaskSlot {
  readonly pid = process.pid;
  private readonly abortion = new LazySignal();
  private fail: ((reason: AbortReason) => void) | undefined;

  constructor(
    private readonly tasks: ReadonlyMap<string, AnyTask>,
    private readonly objects: TaskObjects,
  ) {}

  run(request: SandboxRequest): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = request.timeoutMs === undefined ? undefined : setTimeout(() => this.abort('timeout'), request.timeoutMs);
      this.fail = (reason) => {
        clearTimeout(timer);
        const what = reason === 'timeout' ? 'timed out' : 'was cancelled';
        reject(
          new AttemptFailure({
            name: reason === 'timeout' ? 'TaskTimeoutError' : 'CancelledError',
            code: reason === 'timeout' ? 'TASK_TIMEOUT' : 'CANCELLED',
            reason: reason === 'oom' ? 'oom' : reason,
            message: `The task ${what} (inline: its signal fired; it was not killed)`,
          }),
        );
      };
      const abortion = this.abortion;
      runHere(this.tasks, request, abortion, this.objects).then((outcome) => {
        clearTimeout(timer);
        if (abortion.aborted) return;
        if (outcome.ok) resolve(outcome.result);
        else reject(new AttemptFailure(outcome.error));
      }, reject);
    });
  }

  abort(reason: AbortReason): void {
    if (this.abortion.aborted) return;
    this.abortion.abort(reason);
    this.fail?.(reason);
  }
}

/** Runs a request's task on this event loop, `abortion` giving its signal (the inline slot's, a self-fetching sandbox's). */
export function runHere(tasks: ReadonlyMap<string, AnyTask>, request: SandboxRequest, abortion: LazySignal, objects: TaskObjects): Promise<RunOutcome> {
  return runTask(tasks.get(request.task), request.task, request.input as RunInput, {
    jobId: request.jobId,
    attempt: request.attempt,
    get signal() {
      return abortion.signal;
    },
    progress: (value) => request.onProgress?.(value),
    get: <T>(ref: Ref<T>) => objects.get(ref) as Promise<T>,
    putBytes: (bytes, kind) => objects.put(bytes, kind, { queue: request.queue, jobId: request.jobId }),
    inlineMaxBytes: objects.inlineMaxBytes,
  });
}


/**
 * The abort signal of one run, made when the handler first reads it: most handlers never do, and an
 * `AbortSignal` (an `EventTarget`) is costly to make and collect, tens of µs per job in a busy worker. An
 * abort before that is kept: the signal is then made already aborted, with the same reason. The context
 * exposes it as a getter, so it stays lazy only if `runTask` keeps the getter (no object spread of the context).
 */
export class LazySignal {
  private controller: AbortController | undefined;
  private reason: unknown;
  /** True once {@link abort} was called, whether or not the signal was made. */
  aborted = false;

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}
