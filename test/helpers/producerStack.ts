import { collectTasks, createAdmin, createClient, createLogger, type ObjectOptions, type TaskpoolAdmin, type TaskpoolClient } from '@taskpool/core';
import { buildServer, createProducerMetrics, createRedisHealth, guardedBy, type BuildServerDeps, type ProducerMetrics, type RedisHealth } from '@taskpool/producer';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import * as fixtures from '../fixtures/producerTasks.ts';

import { currentTestPrefix, redisUrl } from './testRedis.ts';
import { AUTH, TEST_TOKEN } from './testToken.ts';
import { useFixture } from './useFixture.ts';

export { AUTH, TEST_TOKEN };

/** A producer built in-process (no listening) over a real Redis, with its own client and admin. */
export interface ProducerStack extends AsyncDisposable {
  /** The key prefix of its client and admin. */
  prefix: string;
  app: FastifyInstance;
  client: TaskpoolClient;
  admin: TaskpoolAdmin;
  redis: RedisHealth;
  /** The registry `/metrics` serves (feed it job events with `startJobEventsRecorder`). */
  metrics: ProducerMetrics;
  /** `app.inject` with the test token (unless `headers.authorization` is given). */
  request(options: InjectOptions): Promise<LightMyRequestResponse>;
  /** POSTs a JSON body with the token. */
  post(url: string, body?: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/** Options of {@link startProducerStack}: the Redis, the key prefix, and any of `buildServer`'s dependencies to use instead of the stack's. */
export type ProducerStackOptions = { redisUrl: string; prefix: string; objects?: ObjectOptions } & Partial<BuildServerDeps>;

/** Builds a producer over `test/fixtures/producerTasks.ts` (or `options.tasks`), waiting until its Redis health connection is up. */
export async function startProducerStack(options: ProducerStackOptions): Promise<ProducerStack> {
  const { redisUrl, prefix, objects, ...deps } = options;
  const tasks = deps.tasks ?? collectTasks(fixtures);
  const queues = [...new Set([...tasks.values()].map((t) => t.defaults.queue ?? 'default'))];
  const logger = createLogger({ level: 'silent' });
  const client = createClient({ redisUrl, prefix, queues, ...(objects && { objects }) });
  const admin = createAdmin({ redisUrl, prefix, queues });
  const redis = createRedisHealth({ redisUrl, logger });
  if (!(await redis.whenUp(10_000))) throw new Error(`Redis at ${redisUrl} did not answer`);
  const metrics = createProducerMetrics({ admin, viaRedis: guardedBy(redis, 5_000) });
  const app = buildServer({ tasks, client, admin, redis, logger, metrics, tokens: [TEST_TOKEN], ...deps });
  await app.ready();
  const request = (inject: InjectOptions) => app.inject({ ...inject, headers: { ...AUTH, ...inject.headers } });
  const close = async () => {
    await app.close();
    await Promise.all([client.close(), admin.close(), redis.close()]);
  };
  return {
    prefix,
    app,
    client,
    admin,
    redis,
    metrics,
    request,
    post: (url, body, headers = {}) =>
      request({ method: 'POST', url, headers: { ...(body !== undefined && { 'content-type': 'application/json' }), ...headers }, ...(body !== undefined && { body: JSON.stringify(body) }) }),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * A producer stack for the tests of a file (or of the `describe` it is called in), built in `beforeAll` and
 * closed in `afterAll` (see {@link useFixture}): `stack.app`, `stack.request(...)` and the rest inside tests,
 * `stack.prefix` at once. Defaults: the run's Redis, a key prefix of the test file's own, and those of
 * {@link startProducerStack}.
 */
export function useProducerStack(options: Partial<ProducerStackOptions> = {}): ProducerStack {
  const prefix = options.prefix ?? currentTestPrefix();
  return useFixture(() => startProducerStack({ redisUrl: redisUrl(), ...options, prefix }), { prefix });
}
