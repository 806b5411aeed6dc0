import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { ConfigError } from './errors.ts';
import { isSentinelUrl, parseSentinelUrl } from './sentinelUrl.ts';

/** A connection to one Redis server (given directly or found through Redis Sentinel) or to a Redis Cluster: all answer the same commands. */
export type RedisClient = Redis | Cluster;

/**
 * Who uses a connection decides how it behaves when Redis is away (BullMQ's production guide):
 * a `producer` fails fast: a command waits for at most one reconnection attempt (at most 1 s apart) and
 * then rejects, so an HTTP request gets an error at once; the offline queue stays on only so that the first
 * commands of a new client wait for its first connect. A `worker` reconnects for ever, but each command
 * rejects after {@link WORKER_COMMAND_TIMEOUT_MS}.
 */
export type ConnectionRole = 'producer' | 'worker';

/**
 * Every command of a worker connection rejects after this long without a reply, so a cut-off worker's
 * commands (lock renewals, heartbeats, results) fail instead of hanging until TCP gives up. It must outlast
 * BullMQ's longest blocking fetch (a `BZPOPMIN` of at most 10 s that BullMQ's own watchdog abandons 1 s
 * later): BullMQ's blocking connection is a duplicate of the worker's and inherits the option. Detecting a cut
 * does not wait for it: see `partitionGuard.ts`.
 */
export const WORKER_COMMAND_TIMEOUT_MS = 15_000;

/** The scheme of a Redis Cluster's address: `redis-cluster://host:port,host:port` (any nodes of it, as seeds). */
export const CLUSTER_SCHEME = 'redis-cluster://';

/**
 * Opens an ioredis connection for a role; connection errors go to the logger (or are left to the failing
 * commands). A `redis-cluster://` address opens an ioredis `Cluster` (see {@link checkClusterPrefix}); a
 * `redis-sentinel://` address a connection to the master its sentinels name (see {@link sentinelOptions}).
 */
export function createRedisConnection(url: string, role: ConnectionRole, logger?: Logger): RedisClient {
  const options: RedisOptions = {
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    connectionName: `taskpool:${role}`,
    ...(role === 'worker' && { commandTimeout: WORKER_COMMAND_TIMEOUT_MS }),
    // A producer tries again at least every second, so a submit retrying for `submitRetryMs` sees Redis back soon after it is.
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 6), role === 'producer' ? 1_000 : 5_000),
  };
  const redis = isClusterUrl(url)
    ? new Cluster(clusterNodes(url), { redisOptions: options, clusterRetryStrategy: options.retryStrategy! })
    : isSentinelUrl(url)
      ? new Redis(sentinelOptions(url, options))
      : new Redis(url, options);
  let lastLogged = 0;
  redis.on('error', (err: Error) => {
    // Reconnection errors repeat every retry: one line per 10 s is enough.
    if (!logger || Date.now() - lastLogged < 10_000) return;
    lastLogged = Date.now();
    logger.warn({ event: 'redis:error', role, err }, `Redis connection error: ${err.message}`);
  });
  return redis;
}

/**
 * Resolves once the connection is ready, however long Redis takes to come up: a worker starting while Redis
 * is away waits for it (its commands would otherwise time out, see {@link WORKER_COMMAND_TIMEOUT_MS}).
 */
export async function connectionReady(redis: RedisClient): Promise<void> {
  // Not `events.once`: it rejects on the first `error` event, and a worker's connection retries through those.
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
}

/** True for a `redis-cluster://` address. */
export function isClusterUrl(url: string): boolean {
  return url.startsWith(CLUSTER_SCHEME);
}

/**
 * On a Redis Cluster every key of a queue, and of a workflow across queues, must live in one slot: BullMQ's
 * rule, met when the prefix is a hash tag such as `{taskpool}`. Throws {@link ConfigError} otherwise.
 */
export function checkClusterPrefix(url: string, prefix: string): void {
  if (isClusterUrl(url) && !/^\{[^{}]+\}/.test(prefix)) {
    throw new ConfigError(`A Redis Cluster needs a key prefix that starts with a hash tag, e.g. {${prefix}} (got ${prefix})`);
  }
}

/**
 * ioredis options for the master of a `redis-sentinel://` address. Each connect asks the sentinels in turn
 * for the master's address and checks the server's role; a master that does not answer fails the connect, so
 * a producer's commands still fail fast. While no sentinel answers at all the connect goes on asking, at the
 * pace of the `retryStrategy` (ioredis ends a connection for good when the sentinels' retry gives up), so a
 * producer's commands wait then; the producer's HTTP API still answers 503 at once. A failover that leaves
 * the old master running ends its connections (Sentinel sends `CLIENT KILL` to the servers it reconfigures);
 * a reply `READONLY` (the server became a replica) reconnects and sends the command again. ioredis's
 * `failoverDetector` stays off: in ioredis 5.11 a `quit()` leaves its sentinel subscriptions open
 * (redis/ioredis#1362). BullMQ's `duplicate()`s (blocking connections) copy these options.
 */
export function sentinelOptions(url: string, base: RedisOptions): RedisOptions {
  const address = parseSentinelUrl(url);
  return {
    ...base,
    ...address,
    role: 'master',
    sentinelRetryStrategy: base.retryStrategy ?? undefined,
    sentinelCommandTimeout: 2_000,
    reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
  };
}

function clusterNodes(url: string): { host: string; port: number }[] {
  return url
    .slice(CLUSTER_SCHEME.length)
    .split(',')
    .map((node) => {
      const [host, port] = node.trim().split(':');
      if (!host || !port || !/^\d+$/.test(port)) throw new ConfigError(`Invalid Redis Cluster node ${JSON.stringify(node)}: use host:port`);
      return { host, port: Number(port) };
    });
}

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
    // ioredis rejects a pipeline's unanswered commands so (redis-errors' AbortError) when its socket closes.
    (error.name === 'AbortError' && error.message.startsWith('Command aborted due to connection close')) ||
    error.message.includes('enableOfflineQueue options is false') ||
    (typeof code === 'string' && UNREACHABLE_CODES.has(code))
  );
}
