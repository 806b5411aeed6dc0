import { setTimeout as delay } from 'node:timers/promises';
import { RedisUnavailableError } from '../errors.ts';

/** How long a submit retries while Redis is unreachable, unless `submitRetryMs` says otherwise. */
export const DEFAULT_SUBMIT_RETRY_MS = 5_000;

/** Error codes of Node's sockets that mean Redis cannot be reached. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN']);

/**
 * True for the errors ioredis and BullMQ raise when the connection is down (a producer connection gives up
 * after one reconnection attempt): `MaxRetriesPerRequestError`, a closed connection, a socket error code.
 */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return (
    error.name === 'MaxRetriesPerRequestError' ||
    error.name === 'ConnectionClosedError' ||
    error.message === 'Connection is closed.' ||
    error.message.includes('enableOfflineQueue options is false') ||
    (typeof code === 'string' && UNREACHABLE_CODES.has(code))
  );
}

/** A connection error as a {@link RedisUnavailableError} (the error kept as its `cause`); any other error as it is. */
export function asRedisUnavailable(error: unknown, message?: string): unknown {
  return isConnectionError(error) ? new RedisUnavailableError(message, { cause: error }) : error;
}

/** Runs `fn` once; a connection error rejects as a {@link RedisUnavailableError}. For calls not worth retrying (reads, cancels). */
export async function failOnDisconnect<T>(fn: () => Promise<T>): Promise<T> {
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
}

/**
 * Runs `fn` again while it fails with a connection error, with backoff from 50 ms to 2 s, for at most
 * `forMs` (the last attempt at the deadline); then rejects with a {@link RedisUnavailableError} whose
 * `cause` is the last connection error. Any other error rejects at once, as it is. Only for idempotent work:
 * an attempt cut off by a dropped connection may have been applied (an add with a job id fixed beforehand is:
 * BullMQ ignores an add whose id exists).
 */
export async function retryOnDisconnect<T>(fn: () => Promise<T>, options: RetryOnDisconnectOptions): Promise<T> {
  const started = Date.now();
  const deadline = started + options.forMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      const left = deadline - Date.now();
      if (!isConnectionError(error) || left <= 0 || options.stopped?.()) {
        throw asRedisUnavailable(error, `Redis is unavailable (${attempt + 1} attempt${attempt > 0 ? 's' : ''} in ${Date.now() - started} ms)`);
      }
      await delay(Math.min(50 * 2 ** attempt, 2_000, left));
    }
  }
}
