// No import of @taskpool/core: it loads BullMQ and ioredis, which a CLI run never needs (it costs ~0.5 s a run).
import { z } from 'zod';
import { CliUsageError } from './command.ts';

/** The CLI's configuration: env variables, which `--url` and `--token` override. */
export const cliEnvSchema = z.object({
  /** The producer's base URL. Default: `http://127.0.0.1:3000`. */
  TASKPOOL_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:3000'),
  /** One of the producer's `TASKPOOL_API_TOKENS`. */
  TASKPOOL_TOKEN: z.string().min(1).optional(),
});

export type CliEnv = z.output<typeof cliEnvSchema>;

/** Reads the CLI's configuration once; flags (already mapped to variable names) win over `process.env`. */
export function loadCliEnv(overrides: Record<string, string | undefined> = {}): CliEnv {
  const given = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const source = { ...process.env, ...given };
  const parsed = cliEnvSchema.safeParse({
    TASKPOOL_URL: source.TASKPOOL_URL || undefined,
    TASKPOOL_TOKEN: source.TASKPOOL_TOKEN || undefined,
  });
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
  throw new CliUsageError(`Invalid configuration:\n${lines.join('\n')}`);
}
