import type { AnyTask, Logger, TaskpoolAdmin, TaskpoolClient } from '@taskpool/core';
import { fastify, LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { assertStrongTokens } from './auth/apiTokens.ts';
import { registerAuth } from './auth/authHook.ts';
import { registerDashboard } from './dashboard/registerDashboard.ts';
import { DEFAULT_BODY_LIMIT_BYTES, type TrustProxy } from './env.ts';
import { toHttpError, type HttpErrorBody } from './httpError.ts';
import { createProducerMetrics, type ProducerMetrics } from './metrics/producerMetrics.ts';
import { guardedBy, type RedisHealth } from './redisHealth.ts';
import { jobRoutes } from './routes/jobRoutes.ts';
import { objectRoutes } from './routes/objectRoutes.ts';
import type { RouteContext } from './routes/routeContext.ts';
import { systemRoutes } from './routes/systemRoutes.ts';
import { taskRoutes } from './routes/taskRoutes.ts';
import { workflowRoutes } from './routes/workflowRoutes.ts';

/** What {@link buildServer} needs; `main.ts` wires the real ones, tests their own. */
export interface BuildServerDeps {
  /** The task module's tasks, by name: the only ones `POST /v1/tasks/:name` accepts. */
  tasks: ReadonlyMap<string, AnyTask>;
  client: TaskpoolClient;
  /** Retries, cancels, searches, counts and the worker registry. */
  admin: TaskpoolAdmin;
  /** Answers `/health`, and lets a request that needs Redis fail at once (503) while Redis is away. */
  redis: RedisHealth;
  /** The root logger; the server logs through `logger.child({ component: 'http' })`. */
  logger: Logger;
  /** Bearer tokens accepted (`TASKPOOL_API_TOKENS`); at least one. */
  tokens: readonly string[];
  /** The Prometheus registry `/metrics` serves. Default: a new one, without job events (main.ts feeds them). */
  metrics?: ProducerMetrics;
  /** Largest request body, in bytes. Default: 1 MiB. */
  bodyLimitBytes?: number;
  /** How long a request waits on Redis before it gets 503 `REDIS_UNAVAILABLE`. Default: 5000 ms. */
  redisTimeoutMs?: number;
  /** The longest long-poll (`GET /v1/jobs/:id?waitMs=`). Default: 30000 ms. */
  maxWaitMs?: number;
  /** Dashboard login attempts per client IP and minute; more get 429 `RATE_LIMITED`. Default: 10. */
  loginAttemptsPerMinute?: number;
  /**
   * Fastify's `trustProxy` (`TASKPOOL_TRUST_PROXY`): which proxies' `X-Forwarded-*` headers give the client's
   * address (`request.ip`, which the login limit counts) and protocol (`https` makes the session cookie
   * `Secure`). Default: `false` (the socket's peer is the client).
   */
  trustProxy?: TrustProxy;
}

/**
 * Builds the producer's HTTP API and dashboard without listening (tests call `app.inject`). The routes and
 * their answers are listed in `routes/taskRoutes.ts`, `routes/jobRoutes.ts`, `routes/workflowRoutes.ts`, `routes/objectRoutes.ts`, `routes/systemRoutes.ts` and
 * `dashboard/registerDashboard.ts`; every route but `/health` and the login page needs a token (`auth/authHook.ts`).
 *
 * Every error answer is `{ error: { code, message, ...details } }`, its status from core's `errorHttpStatus`.
 */
export function buildServer(deps: BuildServerDeps): FastifyInstance {
  if (deps.tokens.length === 0) throw new Error('buildServer needs at least one API token');
  // Short tokens are refused here too, not only by the env schema: a ConfigError before anything listens.
  assertStrongTokens(deps.tokens);
  const { redis } = deps;
  const redisTimeoutMs = deps.redisTimeoutMs ?? 5_000;
  // Typed as Fastify's logger interface, so the app is a plain `FastifyInstance` (pino's Logger fits it).
  const loggerInstance: FastifyBaseLogger = deps.logger.child({ component: 'http' });
  const app = fastify({
    loggerInstance,
    bodyLimit: deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES,
    trustProxy: deps.trustProxy ?? false,
    // One `http:request` line per request (the onResponse hook below) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // A body is user data: JSON.parse makes `__proto__` and `constructor` plain own keys, which no code here
    // merges naively (inputs are pruned with defineProperty and parsed by zod, which drops `__proto__` itself).
    // So a `__proto__` key is removed, as zod would, rather than failing the request; `constructor` stays data.
    onProtoPoisoning: 'remove',
    onConstructorPoisoning: 'ignore',
  });
  // JSON only: a text/plain body is refused (400) rather than handed to a task's schema as a string.
  app.removeContentTypeParser('text/plain');

  const closing = new AbortController();
  app.addHook('preClose', async () => closing.abort());
  const viaRedis = guardedBy(redis, redisTimeoutMs);
  const ctx: RouteContext = {
    tasks: deps.tasks,
    client: deps.client,
    admin: deps.admin,
    viaRedis,
    maxWaitMs: deps.maxWaitMs ?? 30_000,
    closing: closing.signal,
  };
  const metrics = deps.metrics ?? createProducerMetrics({ admin: deps.admin, viaRedis });

  const tokens = registerAuth(app, deps.tokens);
  taskRoutes(app, ctx);
  jobRoutes(app, ctx);
  workflowRoutes(app, ctx);
  objectRoutes(app, ctx);
  systemRoutes(app, { ...ctx, redis, metrics });
  registerDashboard(app, { ...ctx, tokens, loginAttemptsPerMinute: deps.loginAttemptsPerMinute ?? 10 });

  app.setNotFoundHandler(async (request, reply) => {
    const body: HttpErrorBody = { error: { code: 'ROUTE_NOT_FOUND', message: `No route ${request.method} ${request.url.split('?')[0]}` } };
    return reply.code(404).send(body);
  });

  app.setErrorHandler(async (error, request, reply) => {
    const { status, body, headers } = toHttpError(error);
    const fields = { event: 'http:error', code: body.error.code, statusCode: status };
    // The stack only where it helps: an unexpected error. The caller never sees it.
    if (body.error.code === 'INTERNAL') request.log.error({ ...fields, err: error }, 'Unexpected error');
    else if (status >= 500) request.log.warn(fields, error instanceof Error ? error.message : body.error.message);
    else request.log.debug(fields, body.error.message);
    return reply.code(status).headers(headers ?? {}).send(body);
  });

  app.addHook('onResponse', async (request, reply) => {
    const line = {
      event: 'http:request',
      method: request.method,
      // Without the query string: it may hold search text.
      url: request.url.split('?')[0],
      statusCode: reply.statusCode,
      durationMs: Math.round(reply.elapsedTime * 10) / 10,
    };
    if (request.url === '/health' || request.url.startsWith('/dashboard/queues/static')) request.log.debug(line);
    else request.log.info(line);
  });

  return app;
}
