import { z } from 'zod';

/** The highest priority number BullMQ takes (2^21 - 1; 1 is the highest priority). */
export const MAX_PRIORITY = 2 ** 21 - 1;

/**
 * The per-job options a JSON caller may set on a workflow step (`WorkflowSpec`'s `options`): overrides of the
 * task's defaults, each bounded as BullMQ takes it. Unknown keys are refused.
 */
export const stepOptionsSchema = z.strictObject({
  attempts: z.number().int().min(1).optional().meta({ description: "Total attempts, the first included (overrides the task's default)" }),
  backoff: z
    .strictObject({ type: z.enum(['fixed', 'exponential']), delayMs: z.number().int().min(0) })
    .optional()
    .meta({ description: "Wait between attempts (overrides the task's default)" }),
  priority: z.number().int().min(1).max(MAX_PRIORITY).optional().meta({ description: "Priority, 1 is highest (overrides the task's default)" }),
  timeoutMs: z.number().int().min(1).optional().meta({ description: "Hard time limit of one attempt, ms (overrides the task's default)" }),
});

/**
 * The per-job options of a task submit over HTTP (`POST /v1/tasks/:name[/batch]?attempts=...`) and the CLI:
 * the step options' `attempts`, `priority` and `timeoutMs` with their bounds, and `delayMs` (>= 0).
 */
export const submitOptionsSchema = stepOptionsSchema.pick({ attempts: true, priority: true, timeoutMs: true }).extend({
  delayMs: z.number().int().min(0).optional().meta({ description: 'Run no sooner than this many ms from now' }),
  dedupeKey: z
    .string()
    .regex(/^[\x20-\x7e]{1,255}$/, 'printable ASCII, 1 to 255 characters')
    .optional()
    .meta({ description: "Submits of this task with this key inside the window return the first one's job (deduplicated)" }),
  dedupeTtlMs: z.number().int().min(1).optional().meta({ description: "The dedupe window from the key's first submit, ms (default: the task's, else 60000)" }),
});

/** The options {@link submitOptionsSchema} takes. */
export type JsonSubmitOptions = z.output<typeof submitOptionsSchema>;
