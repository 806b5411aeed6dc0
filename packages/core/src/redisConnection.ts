import { Redis } from 'ioredis';
import type { Logger } from 'pino';

/**
 * Who uses a connection decides how it behaves when Redis is away (BullMQ's production guide):
 * a `producer` fails fast: a command waits for at most one reconnection attempt (a few hundred ms) and
 * then rejects, so an HTTP request gets an error at once; the offline queue stays on only so that the first
 * commands of a new client wait for its first connect. A `worker` waits and retries for ever.
 */
export type ConnectionRole = 'producer' | 'worker';

/** Opens an ioredis connection for a role; connection errors go to the logger (or are left to the failing commands). */
export function createRedisConnection(url: string, role: ConnectionRole, logger?: Logger): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    connectionName: `taskpool:${role}`,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 6), 5_000),
  });
  let lastLogged = 0;
  redis.on('error', (err: Error) => {
    // Reconnection errors repeat every retry: one line per 10 s is enough.
    if (!logger || Date.now() - lastLogged < 10_000) return;
    lastLogged = Date.now();
    logger.warn({ event: 'redis:error', role, err }, `Redis connection error: ${err.message}`);
  });
  return redis;
}
