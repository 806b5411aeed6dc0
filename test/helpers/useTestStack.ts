import { startTestStack, type TestStack, type TestStackOptions } from '@taskpool/core/testing';
import { currentTestPrefix, redisUrl } from './testRedis.ts';
import { useFixture } from './useFixture.ts';

/** Options of {@link useTestStack}: those of `startTestStack`, where the Redis URL may be left out. */
export type UseTestStackOptions = Omit<TestStackOptions, 'redisUrl'> & { redisUrl?: string };

/**
 * A client and an in-process worker for the tests of a file (or of the `describe` it is called in), started
 * in `beforeAll` and closed in `afterAll` (see {@link useFixture}): `stack.client`, `stack.worker` and
 * `stack.createClient()` inside tests, `stack.prefix` at once.
 *
 * Defaults: the run's Redis (`redisUrl()`), a key prefix of the test file's own (`currentTestPrefix()`), and those of
 * `startTestStack`: one sandbox process and a silent logger.
 */
export function useTestStack(options: UseTestStackOptions): TestStack {
  const prefix = options.prefix ?? currentTestPrefix();
  return useFixture(() => startTestStack({ redisUrl: redisUrl(), ...options, prefix }), { prefix });
}
