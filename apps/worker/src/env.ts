import { baseEnvSchema, parseEnv } from '@taskpool/core';
import { z } from 'zod';

/** The worker's configuration: env variables, which command-line flags override. */
export const workerEnvSchema = baseEnvSchema.extend({
  /** Sandbox processes. Default: one per CPU. */
  TASKPOOL_CONCURRENCY: z.coerce.number().int().positive().max(1024).optional(),
  /** Comma-separated queues to serve. Default: every queue the task module's tasks name. */
  TASKPOOL_QUEUES: z
    .string()
    .transform((s) => s.split(',').map((q) => q.trim()).filter(Boolean))
    .optional(),
  /** On SIGTERM, how long running tasks may take before they are put back to waiting. Default: 30000. */
  TASKPOOL_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(30_000),
});

export type WorkerEnv = z.output<typeof workerEnvSchema>;

/** Reads the worker's configuration once; flags (already mapped to variable names) win over `process.env`. */
export function loadWorkerEnv(overrides: Record<string, string | undefined> = {}): WorkerEnv {
  const given = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return parseEnv(workerEnvSchema, { ...process.env, ...given });
}
