import type { RedisClient } from '../redisConnection.ts';

/** Whether a connection is down, for the calls that should not wait on it blindly. */
export interface ConnectionWatch {
  /** True while a connection that has been up is not (it is reconnecting); false before its first connect, which commands wait for. */
  readonly down: boolean;
  /** The last error the connection reported (e.g. `ECONNREFUSED` from a reconnection attempt), if any. */
  readonly lastError: Error | undefined;
  /** Resolves true once the connection is up (at once if it is), or false after `timeoutMs`. */
  whenUp(timeoutMs: number): Promise<boolean>;
}

/**
 * Watches a connection's state through ioredis's `status` and its `ready` and `error` events; sends no
 * command. However many callers wait, it adds one `ready` listener at a time.
 */
export function watchConnection(redis: RedisClient): ConnectionWatch {
  let wasReady = redis.status === 'ready';
  let lastError: Error | undefined;
  let nextReady: Promise<void> | undefined;
  redis.on('error', (error: Error) => (lastError = error));
  const isUp = (): boolean => redis.status === 'ready';
  if (!wasReady) redis.once('ready', () => (wasReady = true));
  return {
    get down() {
      return wasReady && !isUp();
    },
    get lastError() {
      return lastError;
    },
    async whenUp(timeoutMs) {
      if (isUp()) return true;
      nextReady ??= new Promise<void>((resolve) =>
        redis.once('ready', () => {
          nextReady = undefined;
          resolve();
        }),
      );
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      try {
        return await Promise.race([nextReady.then(() => true as const), expired]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
