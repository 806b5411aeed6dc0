import { isIP } from 'node:net';
import { baseEnvSchema, parseEnv } from '@taskpool/core';
import { z } from 'zod';
import { MIN_TOKEN_LENGTH } from './auth/apiTokens.ts';

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
   * are ignored), each at least 16 characters. Required: the producer does not start without one. Rotate by
   * listing the old and the new.
   */
  TASKPOOL_API_TOKENS: z
    .string()
    .transform((text) => text.split(',').map((token) => token.trim()).filter((token) => token.length > 0))
    .pipe(
      z
        .array(
          z
            .string()
            .regex(/^[\x21-\x7e]+$/, 'tokens are printable ASCII without spaces')
            .min(MIN_TOKEN_LENGTH, `tokens have at least ${MIN_TOKEN_LENGTH} characters (shorter ones are easy to guess)`),
        )
        .min(1, 'at least one token'),
    )
    .optional(),
  /**
   * Whether the producer sits behind a reverse proxy whose `X-Forwarded-For`, `-Proto` and `-Host` it trusts
   * (Fastify's `trustProxy`): `false`; `true` (any peer: only when nothing reaches the producer but through
   * the proxy); or comma-separated proxy addresses or CIDRs (`10.0.0.0/8,127.0.0.1`), the safer choice. Behind
   * a TLS proxy it makes the session cookie `Secure` and the login limit count the client's address, not the
   * proxy's. Default: `false`.
   */
  TASKPOOL_TRUST_PROXY: z
    .string()
    .default('false')
    .transform((text, ctx): TrustProxy => {
      const value = text.trim();
      if (value === '' || value === 'false') return false;
      if (value === 'true') return true;
      const addresses = value.split(',').map((part) => part.trim()).filter((part) => part.length > 0);
      const bad = addresses.filter((address) => !isAddressOrCidr(address));
      if (bad.length > 0) ctx.addIssue({ code: 'custom', message: `not true, false, or IP addresses/CIDRs: ${bad.join(', ')}` });
      return addresses;
    }),
});

/** Fastify's `trustProxy` as the producer takes it (Fastify's hop counts trust nothing since 5.12, so none here). */
export type TrustProxy = boolean | string[];

function isAddressOrCidr(text: string): boolean {
  const [address = '', bits, ...rest] = text.split('/');
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  return /^\d+$/.test(bits) && Number(bits) <= (version === 4 ? 32 : 128);
}

export type ProducerEnv = z.output<typeof producerEnvSchema>;

/** Reads the producer's configuration once; flags (already mapped to variable names) win over `process.env`. */
export function loadProducerEnv(overrides: Record<string, string | undefined> = {}): ProducerEnv {
  const given = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return parseEnv(producerEnvSchema, { ...process.env, ...given });
}
