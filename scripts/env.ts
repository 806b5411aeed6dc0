import { baseEnvSchema, parseEnv } from '@taskpool/core';
import { z } from 'zod';

/** The configuration of `npm start`: env variables, which command-line flags override. */
export const startEnvSchema = baseEnvSchema.pick({ TASKPOOL_PREFIX: true, LOG_LEVEL: true, LOG_FORMAT: true }).extend({
  /** A Redis to use (any address the apps take). Unset: start a redis-server from PATH with its data under `TASKPOOL_DATA_DIR/redis`. */
  REDIS_URL: baseEnvSchema.shape.REDIS_URL.unwrap().optional(),
  /** The producer's HTTP port; `0` picks a free one. Default: 3000. */
  TASKPOOL_PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  /** Where the local Redis keeps its data, relative to the repo root unless absolute. Default: `.taskpool`. */
  TASKPOOL_DATA_DIR: z.string().min(1).default('.taskpool'),
  /** The producer's API tokens (see apps/producer/src/env.ts). Unset: `npm start` makes a random one and prints it. */
  TASKPOOL_API_TOKENS: z.string().optional(),
});

export type StartEnv = z.output<typeof startEnvSchema>;

/** Reads the configuration once; flags (already mapped to variable names) win over `process.env`. */
export function loadStartEnv(overrides: Record<string, string | undefined> = {}): StartEnv {
  const given = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return parseEnv(startEnvSchema, { ...process.env, ...given });
}

/**
 * The environment the started processes inherit (PATH, HOME, their own TASKPOOL_* variables), which
 * `startSystem` completes with REDIS_URL, TASKPOOL_PREFIX and LOG_FORMAT.
 */
export function inheritedEnv(): Record<string, string | undefined> {
  return { ...process.env };
}
