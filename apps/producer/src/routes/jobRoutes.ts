import { JobNotFoundError, SEARCHABLE_STATES, type JobView } from '@taskpool/core';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { toJobResponse } from '../jobResponse.ts';
import { parseRequest } from './parseRequest.ts';
import type { RouteContext } from './routeContext.ts';
import { untilClosed } from './untilClosed.ts';

/** `GET /v1/jobs` query: every criterion given must match. */
export const jobSearchSchema = z.object({
  id: z.string().min(1).max(200).optional(),
  task: z.string().min(1).max(128).optional(),
  state: z.enum(SEARCHABLE_STATES).optional(),
  /** Case-insensitive text in the error's name, message, code or reason. */
  text: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

const waitSchema = z.object({ waitMs: z.coerce.number().int().min(0).optional() });

/**
 * - `GET /v1/jobs?id=&task=&state=&text=&limit=` → 200 `{ jobs, truncated }` (summaries, newest first per state).
 * - `GET /v1/jobs/:id[?waitMs=N]` → 200 the job; with `waitMs`, answers once it has finished or after
 *   `min(N, maxWaitMs)`, whichever is first (the state then says which). 404 `JOB_NOT_FOUND`.
 * - `POST /v1/jobs/:id/retry` → 200 the job, back to waiting; 409 `CONFLICT` unless it had failed; 404.
 * - `POST /v1/jobs/:id/cancel` → 200 `{ outcome: 'removed' }` (had not started) or 202 `{ outcome: 'signalled' }`
 *   (running: its worker aborts it); 409 `CONFLICT` once it has finished; 404.
 */
export function jobRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get('/v1/jobs', async (request) => {
    const query = parseRequest(jobSearchSchema, emptyAsAbsent(request.query as Record<string, unknown>), 'query');
    const { jobs, truncated } = await ctx.viaRedis(() => ctx.admin.searchJobs(query));
    return { jobs, truncated };
  });

  app.get<{ Params: { id: string } }>('/v1/jobs/:id', async (request) => {
    const { waitMs } = parseRequest(waitSchema, request.query, 'query');
    const { id } = request.params;
    const view = await ctx.viaRedis(() => ctx.client.getJob(id));
    if (!view) throw new JobNotFoundError(id);
    if (!waitMs || isFinished(view)) return toJobResponse(view);
    await waitForEnd(ctx, view, Math.min(waitMs, ctx.maxWaitMs));
    return toJobResponse((await ctx.viaRedis(() => ctx.client.getJob(id))) ?? view);
  });

  app.post<{ Params: { id: string } }>('/v1/jobs/:id/retry', async (request) => {
    const view = await ctx.viaRedis(() => ctx.admin.retryJob(request.params.id));
    if (!view) throw new JobNotFoundError(request.params.id);
    return toJobResponse(view);
  });

  app.post<{ Params: { id: string } }>('/v1/jobs/:id/cancel', async (request, reply) => {
    const outcome = await ctx.viaRedis(() => ctx.admin.cancelJob(request.params.id));
    if (!outcome) throw new JobNotFoundError(request.params.id);
    return reply.code(outcome.outcome === 'removed' ? 200 : 202).send(outcome);
  });
}

function isFinished(view: JobView): boolean {
  return view.state === 'completed' || view.state === 'failed' || view.state === 'unknown';
}

/**
 * Waits, through the client's completion watcher, until the job finishes, `timeoutMs` passes or the server
 * closes; never throws (the caller reads the job again either way). A job of a task this module does not
 * know is not awaited.
 */
async function waitForEnd(ctx: RouteContext, view: JobView, timeoutMs: number): Promise<void> {
  const task = ctx.tasks.get(view.task);
  if (!task || ctx.closing.aborted) return;
  await untilClosed(ctx.closing, ctx.client.handle(task, view.id).result({ timeoutMs }));
}

/** A search form sends empty fields for "any". */
function emptyAsAbsent(query: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(query).filter(([, value]) => value !== ''));
}
