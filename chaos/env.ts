import { z } from 'zod';

/** The chaos runner's settings (`npm run chaos`); see RELIABILITY.md. Only this file reads `process.env`. */
const chaosEnvSchema = z.object({
  /** Multiplies every scenario's task count. Default: 1 (`--quick`: 0.25). */
  CHAOS_SCALE: z.coerce.number().positive().optional(),
  /** Seeds the kill soak's choices. Default: 1. */
  CHAOS_SEED: z.coerce.number().int().default(1),
  /** After the last submit and fault, how long to wait for every job before counting the rest as lost, s. Default: 180. */
  CHAOS_SETTLE_S: z.coerce.number().positive().default(180),
  /** Comma-separated scenario names. Default: all. */
  CHAOS_ONLY: z
    .string()
    .transform((s) => s.split(',').map((name) => name.trim()).filter(Boolean))
    .optional(),
});

export type ChaosEnv = z.output<typeof chaosEnvSchema>;

/** Reads the runner's settings once; throws naming every bad variable. */
export function loadChaosEnv(): ChaosEnv {
  const cleaned = Object.fromEntries(Object.entries(process.env).filter(([key, value]) => key.startsWith('CHAOS_') && value !== ''));
  const parsed = chaosEnvSchema.safeParse(cleaned);
  if (parsed.success) return parsed.data;
  throw new Error(`Invalid chaos settings:\n${parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`).join('\n')}`);
}

/** The execution log a chaos worker's sandboxes append to (`CHAOS_LOG_FILE`, set by the runner on each worker), if any. */
export function executionLogFile(): string | undefined {
  return process.env.CHAOS_LOG_FILE || undefined;
}
