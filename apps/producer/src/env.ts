import { baseEnvSchema, parseEnv } from '@taskpool/core';
import { z } from 'zod';

/** The default largest request body: 1 MiB. */
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;

/** The producer's configuration: env variables, which command-line flags override. */
export const producerEnvSchema = baseEnvSchema.extend({
  /** HTTP port; `0` picks a free one (the `producer:ready` log line has the real URL). Default: 3000. */
  TASKPOOL_PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  /** Interface to listen on; `0.0.0.0` for every interface (e.g. in a container). Default: `127.0.0.1`. */
  TASKPOOL_HOST: z.string().min(1).default('127.0.0.1'),
  /** Largest request body, in bytes; larger ones get 413 `PAYLOAD_TOO_LARGE`. Default: 1 MiB. */
  TASKPOOL_BODY_LIMIT_BYTES: z.coerce.number().int().positive().default(DEFAULT_BODY_LIMIT_BYTES),
  /**
   * Bearer tokens that may call the API and log in to the dashboard, comma-separated (spaces around commas
   * are ignored). Required: the producer does not start without one. Rotate by listing the old and the new.
   */
  TASKPOOL_API_TOKENS: z
    .string()
    .transform((text) => text.split(',').map((token) => token.trim()).filter((token) => token.length > 0))
    .pipe(z.array(z.string().regex(/^[\x21-\x7e]+$/, 'tokens are printable ASCII without spaces')).min(1, 'at least one token'))
    .optional(),
});

export type ProducerEnv = z.output<typeof producerEnvSchema>;

/** Reads the producer's configuration once; flags (already mapped to variable names) win over `process.env`. */
export function loadProducerEnv(overrides: Record<string, string | undefined> = {}): ProducerEnv {
  const given = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return parseEnv(producerEnvSchema, { ...process.env, ...given });
}
