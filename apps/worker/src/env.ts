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
  /** After a timeout or cancel, ms before the sandbox is SIGKILLed. Default: 1000. */
  TASKPOOL_KILL_GRACE_MS: z.coerce.number().int().min(0).default(1_000),
  /** Memory cap of each sandbox (V8 heap limit and RSS while a task runs), MiB. Default: none. */
  TASKPOOL_MAX_MEMORY_MB: z.coerce.number().int().min(32).optional(),
  /** Replace a sandbox after this many tasks. Default: never. */
  TASKPOOL_MAX_TASKS_PER_PROCESS: z.coerce.number().int().positive().optional(),
  /** Replace a sandbox whose RSS is over this after a task, MiB. Default: never. */
  TASKPOOL_MAX_RSS_MB_PER_PROCESS: z.coerce.number().int().positive().optional(),
  /** Crashes of one job after which it fails for good as quarantined. Default: 3. */
  TASKPOOL_QUARANTINE_AFTER_CRASHES: z.coerce.number().int().positive().default(3),
  /** How long a job's lock lasts without renewal, ms: a dead worker's jobs go to another within this plus one or two stalled intervals. Default: 8000. */
  TASKPOOL_LOCK_DURATION_MS: z.coerce.number().int().min(1_000).default(8_000),
  /** How often the worker looks for stalled jobs, ms; below the lock duration. Default: 3000. */
  TASKPOOL_STALLED_INTERVAL_MS: z.coerce.number().int().min(500).default(3_000),
  /** Stalls (the worker died or was cut off while running the job) every job survives, whatever its attempts. Default: 2. */
  TASKPOOL_MAX_STALLS: z.coerce.number().int().min(0).default(2),
  /**
   * Who takes the jobs of `process` queues from Redis: `supervisor` (the worker process, handing each to a
   * sandbox over IPC) or `sandbox` (each sandbox process fetches, runs and records its own jobs; the worker
   * process only watches). Default: `supervisor`.
   */
  TASKPOOL_FETCH: z.enum(['supervisor', 'sandbox']).default('supervisor'),
  /** Jobs each queue holds beyond one per sandbox while tasks are short (the next is fetched while one runs); 0: none. Default: 1. */
  TASKPOOL_PREFETCH: z.coerce.number().int().min(0).max(1024).default(1),
  /** Prefetching stops while the tasks' mean run time is over this, ms. Default: 100. */
  TASKPOOL_PREFETCH_MAX_TASK_MS: z.coerce.number().int().min(0).default(100),
  /** Most runs sent ahead to each sandbox while tasks are very short (mean × depth ≤ 2 ms), with as many held ready; 1: one at a time. Default: 16. */
  TASKPOOL_PIPELINE_DEPTH: z.coerce.number().int().min(1).max(64).default(16),
  /** Take and complete plain jobs K at a time in one call each (`true`), or one BullMQ call per job (`false`). Default: true. */
  TASKPOOL_LEAN_LANE: z.enum(['true', 'false']).default('true').transform((value) => value === 'true'),
  /** Priority aging: a prioritized job rises one level per this many ms it waited; 0: off. */
  TASKPOOL_PRIORITY_AGING_MS: z.coerce.number().int().min(0).default(60_000),
  /** This machine's cache of objects read by reference (`ctx.get`), shared by its workers. Default: `taskpool-objects` in the temp directory. */
  TASKPOOL_OBJECT_CACHE_DIR: z.string().min(1).optional(),
  /** The cache's bound, bytes; the least recently used objects go first. Default: 2 GiB. */
  TASKPOOL_OBJECT_CACHE_MAX_BYTES: z.coerce.number().int().positive().optional(),
}).refine((env) => env.TASKPOOL_STALLED_INTERVAL_MS < env.TASKPOOL_LOCK_DURATION_MS, {
  message: 'must be below TASKPOOL_LOCK_DURATION_MS',
  path: ['TASKPOOL_STALLED_INTERVAL_MS'],
});

export type WorkerEnv = z.output<typeof workerEnvSchema>;

/** Reads the worker's configuration once; flags (already mapped to variable names) win over `process.env`. */
export function loadWorkerEnv(overrides: Record<string, string | undefined> = {}): WorkerEnv {
  const given = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return parseEnv(workerEnvSchema, { ...process.env, ...given });
}
