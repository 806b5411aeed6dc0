import { TaskpoolError, type Logger } from '@taskpool/core';
import { createRedisConnection } from '@taskpool/core/internal';

/** Redis is down, unreachable, or did not answer within the producer's deadline (HTTP 503). */
export class RedisUnavailableError extends TaskpoolError {
  override name = 'RedisUnavailableError';
  constructor(message = 'Redis is unavailable', options?: { cause?: unknown }) {
    super('REDIS_UNAVAILABLE', message, options);
  }
}

/** Whether the producer's Redis answers, watched on a producer-role connection of its own. */
export interface RedisHealth {
  /** True while the connection is up: checked before each request that needs Redis, so it fails at once while Redis is away. */
  readonly up: boolean;
  /** Resolves true once the connection is up, or false after `timeoutMs`. */
  whenUp(timeoutMs: number): Promise<boolean>;
  /** Sends PING; true if Redis answered within `timeoutMs`. */
  ping(timeoutMs: number): Promise<boolean>;
  /** Closes the connection. */
  close(): Promise<void>;
}

/** Options of {@link createRedisHealth}. */
export interface RedisHealthOptions {
  redisUrl: string;
  /** Logs `redis:up` and `redis:down` once per change (ioredis reports every failed reconnect). */
  logger: Logger;
}

/**
 * Opens a fail-fast connection (no offline queue) that tells whether Redis answers.
 * The producer needs it because a client that has never reached Redis waits for it rather than failing.
 */
export function createRedisHealth(options: RedisHealthOptions): RedisHealth {
  const redis = createRedisConnection(options.redisUrl, 'producer');
  const logger = options.logger.child({ component: 'redis' });
  let state: 'starting' | 'up' | 'down' | 'closed' = 'starting';
  redis.on('ready', () => {
    state = 'up';
    logger.info({ event: 'redis:up' });
  });
  const markDown = (err?: Error): void => {
    if (state === 'down' || state === 'closed') return;
    state = 'down';
    logger.warn({ event: 'redis:down', err }, 'Redis does not answer; requests that need it get 503 until it does');
  };
  redis.on('error', markDown);
  redis.on('close', () => markDown());

  return {
    get up() {
      return redis.status === 'ready';
    },
    async whenUp(timeoutMs) {
      if (redis.status === 'ready') return true;
      let onReady: (() => void) | undefined;
      let timer: NodeJS.Timeout | undefined;
      const ready = await Promise.race([
        new Promise<boolean>((resolve) => {
          onReady = () => resolve(true);
          redis.once('ready', onReady);
        }),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if (onReady) redis.off('ready', onReady);
      return ready;
    },
    async ping(timeoutMs) {
      if (redis.status !== 'ready') return false;
      return (await withDeadline(redis.ping(), timeoutMs).catch(() => undefined)) === 'PONG';
    },
    async close() {
      state = 'closed';
      if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
      else redis.disconnect();
    },
  };
}

/** Settles like `promise`, or rejects with {@link RedisUnavailableError} after `timeoutMs` (the operation itself goes on). */
export async function withDeadline<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RedisUnavailableError(`Redis did not answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs a Redis call only while Redis is up, within a deadline: never a request that hangs on Redis. */
export type ViaRedis = <T>(call: () => Promise<T>) => Promise<T>;

/** A {@link ViaRedis} that refuses at once while `health` says Redis is down, and gives each call `timeoutMs`. */
export function guardedBy(health: RedisHealth, timeoutMs: number): ViaRedis {
  return <T>(call: () => Promise<T>): Promise<T> => {
    if (!health.up) return Promise.reject(new RedisUnavailableError());
    return withDeadline(call(), timeoutMs);
  };
}
