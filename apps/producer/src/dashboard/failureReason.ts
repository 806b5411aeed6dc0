import type { FailureGroup } from '@taskpool/core';

/**
 * What each failure reason means, in words an operator reads on the dashboard: above all, whether the
 * handler failed on its own or something outside it (an operator, the kernel, a dead worker host) stopped it.
 */
const REASONS: Record<FailureGroup['reason'], string> = {
  error: 'The handler threw',
  invalid: 'Invalid input or output (not retried)',
  exit: 'The handler’s process exited (process.exit or an uncaught error)',
  signal: 'The handler’s process crashed on a signal (SIGSEGV, SIGABRT, …)',
  killed: 'Killed from outside with SIGKILL (the kernel’s OOM killer or an operator); the handler may have been interrupted',
  oom: 'Over the worker’s memory cap (TASKPOOL_MAX_MEMORY_MB)',
  timeout: 'Ran past its timeout',
  stalled: 'Its worker died, froze or was cut off from Redis (lock lost) more often than its attempts allow; the handler may have run',
  cancelled: 'Cancelled',
  quarantined: 'Killed its sandbox too often (quarantined, not retried)',
  unknown: 'No reason recorded',
};

/** The operator's description of a failure reason. */
export function describeFailureReason(reason: string): string {
  return (REASONS as Record<string, string | undefined>)[reason] ?? REASONS.unknown;
}
