import { RedisUnavailableError, type Logger } from '@taskpool/core';
import { createRedisConnection, watchConnection } from '@taskpool/core/internal';

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
  const connection = watchConnection(redis);
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
    whenUp: (timeoutMs) => connection.whenUp(timeoutMs),
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

/** Options of a {@link ViaRedis} call. */
export interface ViaRedisOptions {
  /**
   * Rides out an outage this long instead of refusing at once: waits for Redis to be up, and gives the call
   * this much more time. For calls that retry by themselves while Redis is unreachable (submits, for
   * `admin.submitRetryMs`). Default: 0.
   */
  waitMs?: number;
}

/** Runs a Redis call only while Redis is up, within a deadline: never a request that hangs on Redis. */
export type ViaRedis = <T>(call: () => Promise<T>, options?: ViaRedisOptions) => Promise<T>;

/**
 * A {@link ViaRedis} that refuses at once while `health` says Redis is down (or, with `waitMs`, once it has
 * not come back within `waitMs`), and gives each call `timeoutMs` (plus what is left of `waitMs`).
 */
export function guardedBy(health: RedisHealth, timeoutMs: number): ViaRedis {
  return async <T>(call: () => Promise<T>, options: ViaRedisOptions = {}): Promise<T> => {
    const waitMs = options.waitMs ?? 0;
    const started = Date.now();
    if (!health.up && !(waitMs > 0 && (await health.whenUp(waitMs)))) {
      throw new RedisUnavailableError(waitMs > 0 ? `Redis is unavailable (it did not come back within ${waitMs} ms)` : undefined);
    }
    return withDeadline(call(), timeoutMs + Math.max(0, waitMs - (Date.now() - started)));
  };
}
