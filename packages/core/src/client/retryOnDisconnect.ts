import { setTimeout as delay } from 'node:timers/promises';

/** Error codes of Node's sockets that mean Redis cannot be reached. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN']);

/** True for the errors ioredis raises when the connection is down (a producer connection has no offline queue, so at once). */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return (
    error.name === 'MaxRetriesPerRequestError' ||
    error.message === 'Connection is closed.' ||
    error.message.includes('enableOfflineQueue options is false') ||
    (typeof code === 'string' && UNREACHABLE_CODES.has(code))
  );
}

/** Options of {@link retryOnDisconnect}. */
export interface RetryOnDisconnectOptions {
  /** Give up (rethrow the last error) after this long. */
  forMs: number;
  /** Stop retrying at once when this returns true. */
  stopped?: () => boolean;
}

/**
 * Runs `fn` again while it fails with a connection error, with backoff from 50 ms to 2 s, for at most
 * `forMs`. Only for idempotent work: an attempt cut off by a dropped connection may have been applied.
 */
export async function retryOnDisconnect<T>(fn: () => Promise<T>, options: RetryOnDisconnectOptions): Promise<T> {
  const deadline = Date.now() + options.forMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (!isConnectionError(error) || Date.now() >= deadline || options.stopped?.()) throw error;
      await delay(Math.min(50 * 2 ** attempt, 2_000));
    }
  }
}
