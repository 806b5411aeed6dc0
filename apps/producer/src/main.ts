import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { ConfigError, createAdmin, createClient, createLogger, exitOnSignals, loadTaskModule, queueOf, runMain } from '@taskpool/core';
import { buildServer } from './buildServer.ts';
import { loadProducerEnv } from './env.ts';
import { startJobEventsRecorder } from './metrics/jobEventsRecorder.ts';
import { createProducerMetrics } from './metrics/producerMetrics.ts';
import { createRedisHealth, guardedBy } from './redisHealth.ts';

const USAGE = `Usage: taskpool-producer --tasks <module> [--port N] [--host H] [--prefix P]
Env: TASKPOOL_API_TOKENS (required: comma-separated bearer tokens), REDIS_URL, TASKPOOL_TASKS,
     TASKPOOL_PORT (3000; 0 picks a free port), TASKPOOL_HOST (127.0.0.1), TASKPOOL_PREFIX,
     TASKPOOL_BODY_LIMIT_BYTES (1 MiB), TASKPOOL_TRUST_PROXY (false), LOG_LEVEL, LOG_FORMAT (see .env.example)`;

/** How long startup waits for Redis before listening anyway (requests get 503 until Redis answers). */
const REDIS_STARTUP_WAIT_MS = 5_000;
/** How long shutdown waits for the Redis connections to close (the client's close waits for Redis). */
const CLOSE_TIMEOUT_MS = 5_000;
/** How long a request (or a metrics scrape) waits on Redis before it gets 503. */
const REDIS_TIMEOUT_MS = 5_000;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tasks: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      prefix: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const env = loadProducerEnv({
    TASKPOOL_TASKS: values.tasks,
    TASKPOOL_PORT: values.port,
    TASKPOOL_HOST: values.host,
    TASKPOOL_PREFIX: values.prefix,
  });
  if (!env.TASKPOOL_TASKS) throw new ConfigError(`No task module: pass --tasks <module> or set TASKPOOL_TASKS.\n${USAGE}`);
  const tokens = env.TASKPOOL_API_TOKENS;
  if (!tokens) {
    throw new ConfigError(`No API token: set TASKPOOL_API_TOKENS (e.g. to the output of \`openssl rand -hex 24\`).\n${USAGE}`);
  }
  const logger = createLogger({ level: env.LOG_LEVEL, format: env.LOG_FORMAT, base: { service: 'producer' } });

  const { tasks } = await loadTaskModule(env.TASKPOOL_TASKS);
  // Every queue the module names, so `GET /v1/jobs/:id` finds jobs sent before this process started.
  const queues = [...new Set([...tasks.values()].map(queueOf))];
  const prefix = env.TASKPOOL_PREFIX;
  const objects = {
    maxBytes: env.TASKPOOL_MAX_OBJECT_BYTES,
    inlineMaxBytes: env.TASKPOOL_INLINE_MAX_BYTES,
    ...(env.TASKPOOL_OBJECTS_DIR !== undefined && { dir: env.TASKPOOL_OBJECTS_DIR }),
  };
  const client = createClient({ redisUrl: env.REDIS_URL, prefix, queues, objects });
  const admin = createAdmin({ redisUrl: env.REDIS_URL, prefix, queues, objects });
  const redis = createRedisHealth({ redisUrl: env.REDIS_URL, logger });
  const metrics = createProducerMetrics({ admin, viaRedis: guardedBy(redis, REDIS_TIMEOUT_MS) });
  const recorder = startJobEventsRecorder({
    redisUrl: env.REDIS_URL,
    prefix,
    queues,
    logger,
    // The per-minute statistics in Redis are the workers' (they count each outcome once as they record it).
    onFinished: (job) => metrics.record(job),
  });
  const app = buildServer({ tasks, client, admin, redis, logger, tokens, metrics, bodyLimitBytes: env.TASKPOOL_BODY_LIMIT_BYTES, redisTimeoutMs: REDIS_TIMEOUT_MS, trustProxy: env.TASKPOOL_TRUST_PROXY });

  // Serve even if Redis is away (health says 503, so does every request that needs it), but not before a
  // short wait, so a producer started beside its Redis does not turn away its first requests.
  await redis.whenUp(REDIS_STARTUP_WAIT_MS);
  try {
    await app.listen({ port: env.TASKPOOL_PORT, host: env.TASKPOOL_HOST });
  } catch (error) {
    // A busy port is a setting to change, not a crash: name it (exit 2, one line) instead of Node's stack.
    if ((error as { code?: unknown }).code !== 'EADDRINUSE') throw error;
    throw new ConfigError(`Port ${env.TASKPOOL_PORT} on ${env.TASKPOOL_HOST} is already in use: set TASKPOOL_PORT (or --port) to a free port, or 0 to pick one`);
  }
  const url = urlOf(app.server.address() as AddressInfo);
  logger.info({ event: 'producer:ready', url, dashboard: `${url}/dashboard`, tasks: [...tasks.keys()], queues, prefix });

  /** Stops accepting requests, lets those in flight finish, then closes the Redis connections; false if that timed out. */
  const shutdown = async (): Promise<boolean> => {
    await app.close();
    return settlesWithin(Promise.all([recorder.close(), client.close(), admin.close(), redis.close()]), CLOSE_TIMEOUT_MS);
  };
  exitOnSignals(logger, 'producer', async () => {
    const closed = await shutdown();
    if (!closed) logger.warn({ event: 'producer:shutdown-timeout', timeoutMs: CLOSE_TIMEOUT_MS }, 'Redis connections did not close (is Redis away?)');
    return closed;
  });
}

/** True if `promise` settles within `timeoutMs`, false if not; rejects if it rejects first. */
async function settlesWithin(promise: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([promise.then(() => true as const), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** The URL clients use: an IPv6 host in brackets; the wildcard hosts as a loopback address. */
function urlOf(address: AddressInfo): string {
  const host = address.address === '0.0.0.0' ? '127.0.0.1' : address.address === '::' ? '::1' : address.address;
  return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
}

runMain(main);
