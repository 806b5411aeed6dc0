import { JobNotFoundError, workflowFromSpec, workflowSpecSchema, type StepStatus, type WorkflowHandle } from '@taskpool/core';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { withoutStacks, type JobResponseError } from '../jobResponse.ts';
import { idempotencyKeyOf } from './idempotencyKey.ts';
import { parseRequest } from './parseRequest.ts';
import type { RouteContext } from './routeContext.ts';
import { untilClosed } from './untilClosed.ts';

const waitSchema = z.object({ waitMs: z.coerce.number().int().min(0).optional() });

/** A step of `GET /v1/workflows/:id`, without stack traces. */
export interface StepResponse extends Omit<StepStatus, 'error' | 'children'> {
  error?: JobResponseError;
  children: StepResponse[];
}

/**
 * - `POST /v1/workflows` (a JSON workflow: `{ "chain": [...] }`, `{ "group": [...] }`, `{ "chord": {...} }` or
 *   `{ "task": ..., "input": ... }`, see `WorkflowSpec`) → 202 `{ id }`; every bound input is validated first:
 *   400 `INVALID_INPUT` / `INVALID_WORKFLOW` (also a step that can never take the previous step's output) /
 *   `BAD_REQUEST`, 404 `UNKNOWN_TASK`, nothing sent; rides out a Redis outage as a task submit does
 *   (`taskRoutes.ts`). With `Idempotency-Key`, as a task submit: a repeat answers the first workflow
 *   (`replayed: true`), the same key with another workflow 409 `CONFLICT` (see `RunOptions.idempotencyKey`).
 * - `GET /v1/workflows/:id[?waitMs=N]` → 200 `{ id, state, result?, error?, root }`, `root` the tree of steps;
 *   with `waitMs`, answers once it is done or after `min(N, maxWaitMs)`. 404 `JOB_NOT_FOUND`.
 * - `POST /v1/workflows/:id/cancel` → 202 `{ removed, signalled }`.
 */
export function workflowRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const handleOf = async (id: string): Promise<WorkflowHandle<unknown>> => {
    const handle = await ctx.viaRedis(() => ctx.client.workflow(id));
    if (!handle) throw new JobNotFoundError(id);
    return handle;
  };

  app.post<{ Body: unknown }>('/v1/workflows', async (request, reply) => {
    const key = idempotencyKeyOf(request.headers['idempotency-key']);
    const spec = parseRequest(workflowSpecSchema, request.body, 'body');
    const workflow = workflowFromSpec(spec, (name) => ctx.tasks.get(name));
    // Rides out a Redis blip as a task submit does (the client retries the flow's add; its ids are fixed).
    const handle = await ctx.viaRedis(() => ctx.client.run(workflow, key === undefined ? {} : { idempotencyKey: key }), { waitMs: ctx.admin.submitRetryMs });
    const answer = reply.code(202).header('location', `/v1/workflows/${encodeURIComponent(handle.id)}`);
    return answer.send(key === undefined ? { id: handle.id } : { id: handle.id, replayed: handle.replayed });
  });

  app.get<{ Params: { id: string } }>('/v1/workflows/:id', async (request) => {
    const { waitMs } = parseRequest(waitSchema, request.query, 'query');
    const handle = await handleOf(request.params.id);
    if (waitMs) await untilClosed(ctx.closing, handle.settled({ timeoutMs: Math.min(waitMs, ctx.maxWaitMs) }));
    const status = await ctx.viaRedis(() => handle.status());
    const body: { id: string; state: string; result?: unknown; error?: JobResponseError; root: StepResponse } = {
      id: status.id,
      state: status.state,
      root: toStepResponse(status.root),
    };
    if (status.state === 'completed') {
      const outcome = await ctx.viaRedis(() => handle.settled());
      if (outcome.ok) body.result = outcome.value;
    }
    if (status.state === 'failed' && status.root.error) body.error = withoutStacks(status.root.error);
    return body;
  });

  app.post<{ Params: { id: string } }>('/v1/workflows/:id/cancel', async (request, reply) => {
    const handle = await handleOf(request.params.id);
    return reply.code(202).send(await ctx.viaRedis(() => handle.cancel()));
  });
}

function toStepResponse(step: StepStatus): StepResponse {
  const { error, children, ...rest } = step;
  return { ...rest, ...(error && { error: withoutStacks(error) }), children: children.map(toStepResponse) };
}
