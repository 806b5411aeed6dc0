import type { SerializedError } from '../serializeError.ts';

/** How a sandbox process ended. */
export interface SandboxExit {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines the process wrote to stderr. */
  stderrTail: string;
  /** The uncaught error it reported before dying, if any. */
  fatal?: SerializedError;
  /** The signal the supervisor sent it, if any (timeout, cancel, memory cap, shutdown). */
  signalSent?: NodeJS.Signals;
}

const OOM_MARKERS = ['JavaScript heap out of memory', 'Reached heap limit', 'Allocation failed'];

/**
 * Classifies the death of a sandbox process that was running a task: `oom`, `killed`, `signal` or `exit`.
 * A SIGKILL the supervisor did not send came from outside (the kernel's OOM killer, an operator's
 * `kill -9`): reason `killed`, code `KILLED_EXTERNALLY`, told apart from the handler's own crash.
 */
export function classifyExit(exit: SandboxExit): SerializedError {
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
  const base = { name: 'SandboxCrashError', code: 'SANDBOX_CRASHED', fields: { pid: exit.pid, exitCode: exit.code, signal: exit.signal } };
  if (OOM_MARKERS.some((marker) => exit.stderrTail.includes(marker))) {
    return { ...base, reason: 'oom', message: `Sandbox process ${exit.pid} ran out of memory and ${how}` };
  }
  if (exit.fatal) {
    return {
      ...base,
      reason: 'exit',
      message: `Sandbox process ${exit.pid} ${how} after an uncaught ${exit.fatal.name}: ${exit.fatal.message}`,
      cause: exit.fatal,
      ...(exit.fatal.stack !== undefined && { stack: exit.fatal.stack }),
    };
  }
  if (exit.signal === 'SIGKILL' && exit.signalSent !== 'SIGKILL') {
    return {
      ...base,
      code: 'KILLED_EXTERNALLY',
      reason: 'killed',
      message: `Sandbox process ${exit.pid} was killed from outside the worker (SIGKILL: the kernel's OOM killer or an operator) while running the task; the handler may have been interrupted at any point`,
    };
  }
  if (exit.signal) return { ...base, reason: 'signal', message: `Sandbox process ${exit.pid} ${how} while running the task` };
  return { ...base, reason: 'exit', message: `Sandbox process ${exit.pid} ${how} while running the task` };
}
