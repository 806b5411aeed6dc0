import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { expect, inject } from 'vitest';
import type {} from './redisContext.ts';

/** An ioredis client that `await using` closes. */
export type TestRedisClient = Redis & AsyncDisposable;

/**
 * A BullMQ key prefix unique to one test file and run, e.g. `tp-t-submitTask-3fa9c1`,
 * so test files can share the run's Redis in parallel.
 *
 * @param fileUrl - The test file's `import.meta.url` (a plain path works too).
 */
export function testPrefix(fileUrl: string): string {
  const path = fileUrl.startsWith('file:') ? fileURLToPath(fileUrl) : fileUrl;
  const name = basename(path).replace(/\.test(-d)?\.[cm]?[jt]s$/, '').replace(/[^A-Za-z0-9-]+/g, '-');
  return `tp-t-${name}-${randomBytes(3).toString('hex')}`;
}

/** A {@link testPrefix} of the test file vitest is running (`expect.getState().testPath`), for fixtures of a whole file. */
export function currentTestPrefix(): string {
  const file = expect.getState().testPath;
  if (file === undefined) throw new Error('currentTestPrefix: no test file is running; use testPrefix(import.meta.url)');
  return testPrefix(file);
}

/** The URL of the run's Redis, provided by `test/globalSetup.ts`. */
export function redisUrl(): string {
  const url = inject('redisUrl');
  if (!url) throw new Error('No redisUrl was provided: run this test through the root vitest config (test/globalSetup.ts)');
  return url;
}

/**
 * Counts the keys under `prefix:` with SCAN (never KEYS).
 *
 * @param url - A Redis URL, usually {@link redisUrl}().
 * @param prefix - A prefix from {@link testPrefix}; glob characters in it are matched literally.
 */
export async function countKeys(url: string, prefix: string): Promise<number> {
  await using redis = await connectRedis(url);
  const match = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}:*`;
  let cursor = '0';
  let count = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
    cursor = next;
    count += keys.length;
  } while (cursor !== '0');
  return count;
}

/** Runs `act`, then checks that the number of keys under `prefix:` on the run's Redis is what it was before. */
export async function expectNothingWritten(prefix: string, act: () => Promise<void>): Promise<void> {
  const before = await countKeys(redisUrl(), prefix);
  await act();
  expect(await countKeys(redisUrl(), prefix)).toBe(before);
}

/**
 * Opens an ioredis client and waits until it is connected. Close it with `await using`
 * (`await using redis = await connectRedis(url)`), or call `quit()` yourself.
 */
export async function connectRedis(url: string): Promise<TestRedisClient> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  return Object.assign(client, {
    async [Symbol.asyncDispose]() {
      if (client.status === 'end') return;
      // quit() resolves on Redis's OK; wait for the socket to close too, so leak checks see it gone.
      const ended = once(client, 'end').catch(() => undefined);
      await client.quit().catch(() => client.disconnect());
      await ended;
    },
  });
}
