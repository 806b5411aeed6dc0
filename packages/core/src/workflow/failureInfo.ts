import { z } from 'zod';
import type { SerializedError } from '../serializeError.ts';
import type { FailureInfo } from './workflow.ts';

const REASONS = ['error', 'invalid', 'exit', 'signal', 'killed', 'oom', 'timeout', 'stalled', 'cancelled', 'quarantined'] as const;

/** A serialized remote error (see `SerializedError`). */
export const serializedErrorSchema: z.ZodType<SerializedError> = z.lazy(() =>
  z.object({
    name: z.string(),
    message: z.string(),
    stack: z.string().optional(),
    code: z.string().optional(),
    reason: z.enum(REASONS).optional(),
    cause: serializedErrorSchema.optional(),
    fields: z.record(z.string(), z.json()).optional(),
  }),
) as z.ZodType<SerializedError>;

/** The input schema of an `onFailure` callback task: what failed, and its error. */
export const failureInfoSchema: z.ZodType<FailureInfo> = z.object({
  workflowId: z.string(),
  jobId: z.string(),
  task: z.string(),
  error: serializedErrorSchema,
});
