import { z } from 'zod';
import { parseEnv } from '../envSchema.ts';

/** What the test helpers read from the environment. */
export const testingEnvSchema = z.object({
  /**
   * The `fetch` mode of the workers the helpers start (`startTestWorker`, `startTestStack`) when the options
   * name none, so that one suite runs in either mode: `TASKPOOL_FETCH=sandbox npx vitest run`. Default: the
   * worker's own (`supervisor`).
   */
  TASKPOOL_FETCH: z.enum(['supervisor', 'sandbox']).optional(),
});

/** Reads the helpers' environment. */
export function loadTestingEnv(source: Record<string, string | undefined> = process.env): z.output<typeof testingEnvSchema> {
  return parseEnv(testingEnvSchema, source);
}
