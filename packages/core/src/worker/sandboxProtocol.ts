import type { SerializedError } from '../serializeError.ts';
import type { RunInput, RunResult } from './runTask.ts';

/** What the supervisor sends to a sandbox process. */
export type ToSandbox =
  | { type: 'run'; runId: number; task: string; input: RunInput; jobId: string; attempt: number }
  | { type: 'abort'; runId: number; reason: 'timeout' | 'cancelled' | 'shutdown' }
  | { type: 'shutdown' };

/** What a sandbox process sends to its supervisor. */
export type FromSandbox =
  | { type: 'ready'; pid: number }
  | { type: 'setup-failed'; error: SerializedError }
  | { type: 'done'; runId: number; output: RunResult }
  | { type: 'failed'; runId: number; error: SerializedError }
  | { type: 'progress'; runId: number; value: number | object }
  | { type: 'fatal'; error: SerializedError };
