import { setTimeout as delay } from 'node:timers/promises';
import { RedisUnavailableError } from '../errors.ts';
import type { ConnectionWatch } from './connectionWatch.ts';
import { isConnectionError } from '../redisConnection.ts';

/** How long a submit retries while Redis is unreachable, unless `submitRetryMs` says otherwise. */
export const DEFAULT_SUBMIT_RETRY_MS = 5_000;

/** A connection error as a {@link RedisUnavailableError} (the error kept as its `cause`); any other error as it is. */
export function asRedisUnavailable(error: unknown, message?: string): unknown {
  return isConnectionError(error) ? new RedisUnavailableError(message, { cause: error }) : error;
}

/**
 * Runs `fn` once; a connection error rejects as a {@link RedisUnavailableError}. So does a call made while
 * `connection` is down, at once, rather than wait for the next reconnection attempt (up to 5 s away); its
 * `cause` is the connection's last error. For calls not worth retrying (reads, cancels).
 */
export async function failOnDisconnect<T>(fn: () => Promise<T>, connection?: ConnectionWatch): Promise<T> {
  if (connection?.down) throw new RedisUnavailableError('Redis is unavailable (the connection is down)', { cause: connection.lastError });
  try {
    return await fn();
  } catch (error) {
    throw asRedisUnavailable(error);
  }
}

/** Options of {@link retryOnDisconnect}. */
export interface RetryOnDisconnectOptions {
  /** Retry for at most this long (0: never); then reject with `RedisUnavailableError`. */
  forMs: number;
  /** Stop retrying at once when this returns true. */
  stopped?: () => boolean;
  /** The connection `fn` uses: while it is down, the next attempt waits for it to be up (within `forMs`) instead of being sent. */
  connection?: ConnectionWatch;
}

/**
 * Runs `fn` again while it fails with a connection error, for at most `forMs`: at once when the
 * `connection` is up again, else after a backoff from 50 ms to 2 s. Then rejects with a
 * {@link RedisUnavailableError} whose `cause` is the last connection error. Any other error rejects at once,
 * as it is. No attempt is sent while the connection is known down: it would wait in ioredis's offline queue
 * for the next reconnection attempt, and could land after the deadline. Only for idempotent work: an attempt
 * cut off by a dropped connection may have been applied (an add with a job id fixed beforehand is: BullMQ
 * ignores an add whose id exists).
 */
export async function retryOnDisconnect<T>(fn: () => Promise<T>, options: RetryOnDisconnectOptions): Promise<T> {
  const { connection } = options;
  const started = Date.now();
  const deadline = started + options.forMs;
  let attempts = 0;
  const giveUp = (cause: unknown): RedisUnavailableError =>
    new RedisUnavailableError(`Redis is unavailable (${attempts} attempt${attempts === 1 ? '' : 's'} in ${Date.now() - started} ms)`, { cause });
  for (;;) {
    if (connection?.down) {
      const left = deadline - Date.now();
      if (left <= 0 || options.stopped?.() || !(await connection.whenUp(left))) throw giveUp(connection.lastError);
    }
    try {
      attempts++;
      return await fn();
    } catch (error) {
      const left = deadline - Date.now();
      if (!isConnectionError(error)) throw error;
      if (left <= 0 || options.stopped?.()) throw giveUp(error);
      if (!connection?.down) await delay(Math.min(50 * 2 ** (attempts - 1), 2_000, left));
    }
  }
}
