import { parseEnv } from '@taskpool/core';
import { z } from 'zod';

/** The configuration of `examples/speedup.ts`: the only place the examples read `process.env`. */
export const speedupEnvSchema = z.object({
  /** A Redis to use. Unset: start a throwaway redis-server from PATH in a temp dir. */
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
  /** How many tasks to run, pooled and then serially. Default: 200. */
  COUNT: z.coerce.number().int().positive().max(100_000).default(200),
  /** Sandbox processes of the in-process worker. Default: one per CPU. */
  TASKPOOL_CONCURRENCY: z.coerce.number().int().positive().max(1024).optional(),
});

export type SpeedupEnv = z.output<typeof speedupEnvSchema>;

/** Reads the configuration once; throws `ConfigError` naming every bad variable. */
export function loadSpeedupEnv(): SpeedupEnv {
  return parseEnv(speedupEnvSchema, process.env);
}
