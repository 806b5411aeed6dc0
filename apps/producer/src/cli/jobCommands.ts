import type { JobResponse } from '../jobResponse.ts';
import { onlyArg, UsageError, type Command } from './command.ts';
import { describeJob } from './output.ts';

/** `taskpool status <id>`: the job's state, attempts, result or error. */
export const status: Command = async (ctx) => {
  const id = onlyArg(ctx, 'job id');
  const job = await ctx.api.get<JobResponse>(`/v1/jobs/${encodeURIComponent(id)}`);
  ctx.out(ctx.flags.json ? JSON.stringify(job) : describeJob(job));
  // As `submit --wait`: a job that has failed (or was cancelled) exits 1.
  return job.state === 'failed' ? 1 : 0;
};

/** `taskpool retry <id>` or `taskpool retry --failed <task>`. */
export const retry: Command = async (ctx) => {
  if (ctx.flags.failed !== undefined) {
    if (ctx.args.length > 0) throw new UsageError('Give either a job id or --failed <task>, not both');
    const result = await ctx.api.post<{ task: string; retried: number }>(`/v1/tasks/${encodeURIComponent(ctx.flags.failed)}/retry-failed`);
    ctx.out(ctx.flags.json ? JSON.stringify(result) : `Retried ${result.retried} failed job(s) of ${result.task}`);
    return 0;
  }
  const id = onlyArg(ctx, 'job id (or --failed <task>)');
  const job = await ctx.api.post<JobResponse>(`/v1/jobs/${encodeURIComponent(id)}/retry`);
  ctx.out(ctx.flags.json ? JSON.stringify(job) : `Retried ${job.id}: ${job.state}`);
  return 0;
};

/** `taskpool cancel <id>`: removes a job that has not started, or tells its worker to abort it. */
export const cancel: Command = async (ctx) => {
  const id = onlyArg(ctx, 'job id');
  const result = await ctx.api.post<{ id: string; outcome: 'removed' | 'signalled' }>(`/v1/jobs/${encodeURIComponent(id)}/cancel`);
  if (ctx.flags.json) ctx.out(JSON.stringify(result));
  else ctx.out(result.outcome === 'removed' ? `Removed ${id} (it had not started)` : `Cancel sent to the worker running ${id}`);
  return 0;
};
