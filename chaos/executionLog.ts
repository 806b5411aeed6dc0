import { openSync, readFileSync, writeSync } from 'node:fs';
import { executionLogFile } from './env.ts';

/** `start` when a handler begins, `end` when it has its output (before the worker records it). */
export type ExecutionMark = 'start' | 'end';

/** One line of a run's execution log: which process ran which attempt of which job, and when. */
export interface Execution {
  mark: ExecutionMark;
  /** `Date.now()` in the sandbox. */
  at: number;
  /** The sandbox process. */
  pid: number;
  jobId: string;
  attempt: number;
  /** The task's input index. */
  i: number;
}

let fd: number | undefined;

/**
 * Appends one line to the file named by `CHAOS_LOG_FILE` (set by the chaos runner on each worker, which its
 * sandboxes inherit). Each line is one `write` to a file opened with `O_APPEND`, so lines of concurrent
 * sandboxes never interleave; the write is synchronous, so a line written is on disk even if the process is
 * killed the next instant.
 */
export function recordExecution(mark: ExecutionMark, job: { jobId: string; attempt: number }, i: number): void {
  const file = executionLogFile();
  if (!file) return;
  fd ??= openSync(file, 'a');
  writeSync(fd, `${mark} ${Date.now()} ${process.pid} ${job.jobId} ${job.attempt} ${i}\n`);
}

/** Reads every line written so far (a file that does not exist yet reads as empty). */
export function readExecutionLog(file: string): Execution[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const executions: Execution[] = [];
  for (const line of text.split('\n')) {
    const [mark, at, pid, jobId, attempt, i] = line.split(' ');
    if ((mark !== 'start' && mark !== 'end') || jobId === undefined || i === undefined) continue;
    executions.push({ mark, at: Number(at), pid: Number(pid), jobId, attempt: Number(attempt), i: Number(i) });
  }
  return executions;
}
