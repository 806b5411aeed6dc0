import type { SerializedError } from '../serializeError.ts';

/** An attempt that failed in or with its sandbox, carrying the structured error to record on the job. */
export class AttemptFailure extends Error {
  override name = 'AttemptFailure';
  constructor(readonly serialized: SerializedError) {
    super(serialized.message);
    if (serialized.stack) this.stack = serialized.stack;
  }
}

/** Why the supervisor stopped a running task. */
export type AbortReason = 'timeout' | 'cancelled' | 'oom';

/** The error of a run the supervisor stopped (in the sandbox process `pid`). */
export function abortedError(reason: AbortReason, pid: number): SerializedError {
  const what = { timeout: 'timed out', cancelled: 'was cancelled', oom: 'went over its memory cap' }[reason];
  return {
    name: reason === 'timeout' ? 'TaskTimeoutError' : reason === 'cancelled' ? 'CancelledError' : 'SandboxCrashError',
    code: reason === 'timeout' ? 'TASK_TIMEOUT' : reason === 'cancelled' ? 'CANCELLED' : 'SANDBOX_CRASHED',
    message: `The task ${what} (sandbox process ${pid})`,
    reason,
    fields: { pid },
  };
}

/**
 * A run whose sandbox died while it held several (sent ahead while tasks are short, see `SandboxPool.depth`):
 * which one the death is due to is not known for sure, so it is blamed on none. It is no attempt: the job runs
 * again at once, alone in a sandbox, where a fault is its own.
 */
export class RunNotStarted extends Error {
  override name = 'RunNotStarted';
  constructor(readonly failure: SerializedError) {
    super(`The run was not finished by its sandbox, which held several (${failure.message}): it runs again, alone`);
  }
}
