import type { RedisClient } from '../redisConnection.ts';

/** Whether a client's connections are down, for the calls that should not wait on them blindly. */
export interface ConnectionWatch {
  /** True while a connection that has been up is not (it is reconnecting); false before its first connect, which commands wait for. */
  readonly down: boolean;
  /** The last error a connection reported (e.g. `ECONNREFUSED` from a reconnection attempt), if any. */
  readonly lastError: Error | undefined;
  /** Resolves true once every connection is up (at once if they are), or false after `timeoutMs`. */
  whenUp(timeoutMs: number): Promise<boolean>;
}

/**
 * Watches connections' states through ioredis's `status` and their `ready` and `error` events; sends no
 * command. However many callers wait, it adds one `ready` listener at a time to each connection.
 */
export function watchConnection(...connections: RedisClient[]): ConnectionWatch {
  let lastError: Error | undefined;
  const watched = connections.map((redis) => {
    const state = { redis, wasReady: redis.status === 'ready', nextReady: undefined as Promise<void> | undefined };
    redis.on('error', (error: Error) => (lastError = error));
    if (!state.wasReady) redis.once('ready', () => (state.wasReady = true));
    return state;
  });
  const isUp = (redis: RedisClient): boolean => redis.status === 'ready';
  const ready = (state: (typeof watched)[number]): Promise<void> => {
    if (isUp(state.redis)) return Promise.resolve();
    state.nextReady ??= new Promise<void>((resolve) =>
      state.redis.once('ready', () => {
        state.nextReady = undefined;
        resolve();
      }),
    );
    return state.nextReady;
  };
  return {
    get down() {
      return watched.some((state) => state.wasReady && !isUp(state.redis));
    },
    get lastError() {
      return lastError;
    },
    async whenUp(timeoutMs) {
      if (watched.every((state) => isUp(state.redis))) return true;
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      try {
        return await Promise.race([Promise.all(watched.map(ready)).then(() => true as const), expired]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
