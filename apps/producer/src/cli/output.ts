import type { JobResponse } from '../jobResponse.ts';

/** Prints rows as aligned columns under a header; numbers right-aligned. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((row) => row[i]?.length ?? 0)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((row) => typeof row[i] === 'number'));
  return cells.map((row) => row.map((cell, i) => (numeric[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

/** A job for people: id, task, state, attempts, then its result or error. */
export function describeJob(job: JobResponse): string {
  const lines = [`${job.id}  ${job.task}  ${job.state}  (attempts: ${job.attempts})`];
  if (job.finishedAt !== undefined && job.state === 'completed') lines.push(`took ${formatMs(job.finishedAt - job.createdAt)} from submit to end`);
  if (job.result !== undefined) lines.push(`result: ${JSON.stringify(job.result, null, 2)}`);
  if (job.error) lines.push(`error: ${errorLine(job.error)}`);
  return lines.join('\n');
}

/** `QuotaError [E_QUOTA] (error): quota exceeded`. */
export function errorLine(error: { name: string; message: string; code?: string | undefined; reason?: string | undefined }): string {
  return `${error.name}${error.code ? ` [${error.code}]` : ''}${error.reason ? ` (${error.reason})` : ''}: ${error.message}`;
}

/** `850 ms`, `2.4 s`, `3.1 min`, `–` when unknown. */
export function formatMs(ms: number | undefined): string {
  if (ms === undefined) return '–';
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

/** True once a job will not change any more. */
export function isFinished(job: Pick<JobResponse, 'state'>): boolean {
  return job.state === 'completed' || job.state === 'failed' || job.state === 'unknown';
}
