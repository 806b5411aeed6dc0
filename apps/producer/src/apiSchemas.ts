import { SEARCHABLE_STATES } from '@taskpool/core';
import { z } from 'zod';

/**
 * The shapes of the API's own answers, in zod: `/openapi.json` is generated from them (and from each task's
 * schemas), and the contract tests parse real answers with them, so the document cannot drift from the code.
 */
const issue = z.object({ path: z.array(z.union([z.string(), z.number()])), message: z.string(), code: z.string() });

export const errorBodySchema = z.object({
  error: z
    .object({
      code: z.string().meta({ description: 'Stable: INVALID_INPUT, BAD_REQUEST, UNAUTHORIZED, UNKNOWN_TASK, JOB_NOT_FOUND, CONFLICT, PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, REDIS_UNAVAILABLE, ...' }),
      message: z.string(),
      issues: z.array(issue).optional(),
      items: z.array(z.object({ index: z.number().int(), issues: z.array(issue) })).optional(),
    })
    .catchall(z.unknown()),
});

const jobState = z.enum(['waiting', 'prioritized', 'delayed', 'active', 'waiting-children', 'completed', 'failed', 'unknown']);

/** A job's error as the search lists it: what failed and why, without fields or cause. */
const errorSummary = z.object({ name: z.string(), message: z.string(), code: z.string().optional(), reason: z.string().optional() });

interface ResponseError extends z.infer<typeof errorSummary> {
  fields?: Record<string, unknown> | undefined;
  cause?: ResponseError | undefined;
}
/** A job's error in full: the summary, the error's own fields, and its cause chain. */
const responseError: z.ZodType<ResponseError> = z.lazy(() =>
  errorSummary.extend({
    fields: z.record(z.string(), z.unknown()).optional(),
    cause: responseError.optional(),
  }),
);

/** What a job and a workflow step both show. */
const jobHeader = z.object({ id: z.string(), task: z.string(), queue: z.string(), state: jobState, attempts: z.number().int() });

export const jobSummarySchema = jobHeader.extend({
  createdAt: z.number(),
  finishedAt: z.number().optional(),
  error: errorSummary.optional(),
});

export const jobResponseSchema = jobSummarySchema.extend({
  progress: z.union([z.number(), z.record(z.string(), z.unknown())]),
  result: z.unknown().optional().meta({ description: "The task's output, once completed (see the task's output schema)" }),
  error: responseError.optional(),
});

export const searchResultSchema = z.object({ jobs: z.array(jobSummarySchema), truncated: z.boolean() });
export const submittedSchema = z.object({ id: z.string(), replayed: z.boolean().optional() });
export const batchSubmittedSchema = z.object({ ids: z.array(z.string()), replayed: z.boolean() });
export const retriedFailedSchema = z.object({ task: z.string(), retried: z.number().int() });
export const cancelOutcomeSchema = z.object({ id: z.string(), queue: z.string(), outcome: z.enum(['removed', 'signalled']) });
export const searchStateSchema = z.enum(SEARCHABLE_STATES);

interface StepResponse extends z.infer<typeof jobHeader> {
  error?: ResponseError | undefined;
  children: StepResponse[];
}
const stepResponse: z.ZodType<StepResponse> = z.lazy(() => jobHeader.extend({ error: responseError.optional(), children: z.array(stepResponse) }));
export const workflowSubmittedSchema = z.object({ id: z.string(), replayed: z.boolean().optional() });
export const workflowResponseSchema = z.object({
  id: z.string(),
  state: jobState,
  result: z.unknown().optional().meta({ description: "The workflow's output (its last step's), once completed" }),
  error: responseError.optional(),
  root: stepResponse,
});
export const workflowCancelSchema = z.object({ removed: z.number().int(), signalled: z.number().int() });

/** `POST /v1/objects`: the reference to pass in task inputs instead of the bytes. */
export const objectRefSchema = z.object({
  $taskpoolObject: z.literal(1),
  id: z.string(),
  size: z.number().int().min(0).meta({ description: 'Bytes' }),
  sha256: z.string().meta({ description: 'SHA-256 of the bytes, hex: checked on every read' }),
  kind: z.string().meta({ description: "How the bytes read back: 'buffer' for an upload" }),
  store: z.string().meta({ description: "'redis' or 'fs'" }),
});

export const objectCreatedSchema = z.object({ ref: objectRefSchema });
