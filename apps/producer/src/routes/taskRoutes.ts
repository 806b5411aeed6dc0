import { checkInputs, queueOf, UnknownTaskError, ValidationError, type AnyTask, type CheckedInputs } from '@taskpool/core';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { taskCatalogue } from '../taskCatalogue.ts';
import { BatchValidationError } from './batchValidation.ts';
import { idempotencyKeyOf } from './idempotencyKey.ts';
import { parseRequest } from './parseRequest.ts';
import { submitOptionsOf } from './submitOptionsQuery.ts';
import type { RouteContext } from './routeContext.ts';

/** The most inputs one batch request may carry. */
export const MAX_BATCH_SIZE = 1_000;

/** The body of `POST /v1/tasks/:name/batch`. */
export const batchBodySchema = z.object({ inputs: z.array(z.unknown()).min(1).max(MAX_BATCH_SIZE) });

/**
 * - `POST /v1/tasks/:name` → 202 `{ id }`; with `Idempotency-Key` (the client's `idempotencyKey`), a repeat answers
 *   the first job (`replayed: true`), the same key with another input 409 `CONFLICT`.
 * - `POST /v1/tasks/:name/batch` `{ inputs: [...] }` → 202 `{ ids }`, one `addBulk`; any invalid input → 400, nothing enqueued.
 * - Both take per-job options in the query (`?attempts=2&priority=5&timeoutMs=30000&delayMs=1000`, see
 *   `submitOptionsQuery.ts`), overriding the task's defaults; a bad one → 400 `BAD_REQUEST` naming it.
 * - Both submits ride out a Redis outage of up to `admin.submitRetryMs` (default 5 s); past it, 503
 *   `REDIS_UNAVAILABLE` with `Retry-After` (every 503 `REDIS_UNAVAILABLE` has one; see `buildServer.ts`).
 * - `POST /v1/tasks/:name/retry-failed` → 200 `{ retried }`.
 * - `GET /v1/tasks` → the catalogue (names, queues, defaults, JSON Schemas of input and output).
 */
export function taskRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const catalogue = taskCatalogue(ctx.tasks);
  const taskOf = (name: string): AnyTask => {
    const task = ctx.tasks.get(name);
    if (!task) throw new UnknownTaskError(name);
    return task;
  };

  app.get('/v1/tasks', async () => ({ tasks: catalogue }));

  app.post<{ Params: { name: string }; Body: unknown }>('/v1/tasks/:name', async (request, reply) => {
    const task = taskOf(request.params.name);
    const key = idempotencyKeyOf(request.headers['idempotency-key']);
    const options = submitOptionsOf(request.query);
    // Checked (once) before Redis is touched, so a bad input is a 400 even while Redis is away.
    const checked = checkInputs(task, [request.body]);
    if (!checked.ok) throw new ValidationError('INVALID_INPUT', task.name, checked.items[0]!.issues);
    // A submit rides out a Redis blip of up to `submitRetryMs` (the ids are made first: a retry cannot enqueue twice), then 503.
    const [job] = await ctx.viaRedis(() => ctx.admin.submitBatch(checked.inputs, key === undefined ? undefined : [key], options), { waitMs: ctx.admin.submitRetryMs });
    // `replayed` tells the caller an earlier request with the same key made the job.
    // `deduplicated`: an earlier submit with the same `dedupeKey` (or the task's dedupe key) holds the job.
    const deduplicated = job!.deduplicated ? { deduplicated: true } : {};
    return accepted(reply, job!.id).send(key === undefined ? { id: job!.id, ...deduplicated } : { id: job!.id, replayed: job!.replayed, ...deduplicated });
  });

  app.post<{ Params: { name: string }; Body: unknown }>('/v1/tasks/:name/batch', async (request, reply) => {
    const task = taskOf(request.params.name);
    const key = idempotencyKeyOf(request.headers['idempotency-key']);
    const options = submitOptionsOf(request.query);
    const { inputs } = parseRequest(batchBodySchema, request.body, 'body');
    const checked: CheckedInputs = checkedBatch(task, inputs);
    const keys = key === undefined ? undefined : inputs.map((_, i) => `${key}#${i}`);
    const jobs = await ctx.viaRedis(() => ctx.admin.submitBatch(checked, keys, options), { waitMs: ctx.admin.submitRetryMs });
    return reply.code(202).send({ ids: jobs.map((job) => job.id), replayed: jobs.some((job) => job.replayed) });
  });

  app.post<{ Params: { name: string } }>('/v1/tasks/:name/retry-failed', async (request) => {
    const task = taskOf(request.params.name);
    const retried = await ctx.viaRedis(() => ctx.admin.retryFailed(task.name, queueOf(task)));
    return { task: task.name, retried };
  });
}

/** Every input checked by the task's schema; one {@link BatchValidationError} naming every bad one. */
function checkedBatch(task: AnyTask, inputs: readonly unknown[]): CheckedInputs {
  const checked = checkInputs(task, inputs);
  if (!checked.ok) throw new BatchValidationError(task.name, checked.items);
  return checked.inputs;
}

function accepted(reply: FastifyReply, id: string): FastifyReply {
  return reply.code(202).header('location', `/v1/jobs/${encodeURIComponent(id)}`);
}
