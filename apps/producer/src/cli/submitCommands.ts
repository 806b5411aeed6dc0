import { readFile } from 'node:fs/promises';
import type { JobResponse } from '../jobResponse.ts';
import { ApiError, type ApiClient } from './apiClient.ts';
import { idempotencyHeaders, jobOptionsQuery, UsageError, type Command } from './command.ts';
import { describeJob, errorLine, isFinished } from './output.ts';
import { createProgressBar } from './progressBar.ts';

/** Inputs per batch request (the API's limit). */
const BATCH_SIZE = 1_000;
/** How long each long-poll asks the producer to wait (it caps the wait itself). */
const POLL_WAIT_MS = 25_000;
/** Long-polls in flight at once while `map` waits. */
const WAIT_CONCURRENCY = 16;

/** `taskpool submit <task> --input '{...}' [--wait] [--idempotency-key K] [--attempts N] [--priority N] [--timeout-ms N] [--delay-ms N]`. */
export const submit: Command = async (ctx) => {
  const [task, ...rest] = ctx.args;
  if (task === undefined || rest.length > 0) throw new UsageError('Expected one task name');
  if (ctx.flags.input === undefined) throw new UsageError('Missing --input \'{"...": ...}\'');
  const input = parseJson(ctx.flags.input, '--input');
  const { id } = await ctx.api.post<{ id: string }>(`/v1/tasks/${encodeURIComponent(task)}${jobOptionsQuery(ctx.flags)}`, input, idempotencyHeaders(ctx.flags));
  if (!ctx.flags.wait) {
    ctx.out(ctx.flags.json ? JSON.stringify({ id }) : id);
    return 0;
  }
  ctx.note(`Submitted ${task}: ${id}; waiting...`);
  const job = await waitForJob(ctx.api, id);
  ctx.out(ctx.flags.json ? JSON.stringify(job) : describeJob(job));
  return job.state === 'completed' ? 0 : 1;
};

/** `taskpool map <task> --inputs file.jsonl [--attempts N] ...`: one job per line (each with the per-job options given), submitted in batches, then awaited with a progress bar. */
export const map: Command = async (ctx) => {
  const [task, ...rest] = ctx.args;
  if (task === undefined || rest.length > 0) throw new UsageError('Expected one task name');
  if (ctx.flags.inputs === undefined) throw new UsageError('Missing --inputs <file.jsonl>');
  const file = ctx.flags.inputs;
  const { inputs, lines } = parseJsonLines(await readInputs(file), file);
  const ids: string[] = [];
  for (let start = 0; start < inputs.length; start += BATCH_SIZE) {
    const body = { inputs: inputs.slice(start, start + BATCH_SIZE) };
    const { ids: batch } = await ctx.api.post<{ ids: string[] }>(`/v1/tasks/${encodeURIComponent(task)}/batch${jobOptionsQuery(ctx.flags)}`, body).catch((error: unknown) => {
      throw byLine(error, (index) => `${file} line ${lines[start + index]}`);
    });
    ids.push(...batch);
  }
  const bar = createProgressBar(ids.length, task);
  const jobs = new Array<JobResponse>(ids.length);
  let done = 0;
  let failed = 0;
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < ids.length) {
      const index = next++;
      const job = await waitForJob(ctx.api, ids[index]!);
      jobs[index] = job;
      done++;
      if (job.state !== 'completed') failed++;
      bar.update(done, failed);
    }
  };
  await Promise.all(Array.from({ length: Math.min(WAIT_CONCURRENCY, ids.length) }, lane));
  bar.finish();
  if (ctx.flags.json) {
    jobs.forEach((job, index) => ctx.out(JSON.stringify({ index, line: lines[index], id: job.id, state: job.state, ...(job.result !== undefined && { result: job.result }), ...(job.error && { error: job.error }) })));
  } else {
    ctx.out(`${jobs.length} job(s): ${jobs.length - failed} completed, ${failed} failed`);
    jobs.forEach((job, index) => job.state !== 'completed' && ctx.out(`  line ${lines[index]}: ${job.id} ${job.state}${job.error ? `: ${errorLine(job.error)}` : ''}`));
  }
  return failed === 0 ? 0 : 1;
};

/** Long-polls a job until it has finished. */
async function waitForJob(api: ApiClient, id: string): Promise<JobResponse> {
  for (;;) {
    const job = await api.get<JobResponse>(`/v1/jobs/${encodeURIComponent(id)}?waitMs=${POLL_WAIT_MS}`);
    if (isFinished(job)) return job;
  }
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${what} is not JSON: ${(error as Error).message}`);
  }
}

/** The `--inputs` file's text; a file that cannot be read is a usage error (exit 2), not a stack. */
async function readInputs(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    throw new UsageError(code === 'ENOENT' ? `--inputs ${file}: no such file` : `--inputs ${file} cannot be read: ${message}`);
  }
}

/** One JSON value per non-blank line, with the (1-based) line number of each; a bad line is named by its number. */
function parseJsonLines(text: string, file: string): { inputs: unknown[]; lines: number[] } {
  const inputs: unknown[] = [];
  const lines: number[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    inputs.push(parseJson(line, `${file} line ${i + 1}`));
    lines.push(i + 1);
  });
  if (inputs.length === 0) throw new UsageError(`${file} has no input`);
  return { inputs, lines };
}

/** A batch refused for invalid items, its issues named by where each item came from (`where(index)`) instead of its index. */
function byLine(error: unknown, where: (index: number) => string): unknown {
  const items = error instanceof ApiError ? (error.details.items as { index: number; issues: { path: unknown[]; message: string }[] }[] | undefined) : undefined;
  if (!(error instanceof ApiError) || !items) return error;
  const issues = items.flatMap(({ index, issues }) => issues.map((issue) => ({ ...issue, path: [where(index), ...issue.path] })));
  const first = issues[0];
  const message = first ? `Invalid input at ${first.path.join('.')}: ${first.message}${issues.length > 1 ? ` (+${issues.length - 1} more)` : ''}` : error.message;
  return new ApiError(message, error.status, error.code, { ...error.details, issues });
}
