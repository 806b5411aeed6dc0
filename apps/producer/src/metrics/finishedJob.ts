/** A job that reached `completed` or `failed` (for good), as the producer's statistics record it. */
export interface FinishedJob {
  jobId: string;
  task: string;
  queue: string;
  outcome: 'completed' | 'failed';
  /** The failure reason from the job's `tpError` (`unknown` when it has none). */
  reason?: string;
  /** From the last attempt's start to its end; absent when the job was gone before it could be read. */
  durationMs?: number;
  /** When it finished (ms since the epoch). */
  finishedAt: number;
}
