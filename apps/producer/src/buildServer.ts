import { JobNotFoundError, parseTaskInput, UnknownTaskError, type AnyTask, type Logger, type TaskpoolClient } from '@taskpool/core';
import { fastify, LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { DEFAULT_BODY_LIMIT_BYTES } from './env.ts';
import { toHttpError, type HttpErrorBody } from './httpError.ts';
import { toJobResponse } from './jobResponse.ts';
import { RedisUnavailableError, withDeadline, type RedisHealth } from './redisHealth.ts';

/** What {@link buildServer} needs; `main.ts` wires the real ones, tests their own. */
export interface BuildServerDeps {
  /** The task module's tasks, by name: the only ones `POST /v1/tasks/:name` accepts. */
  tasks: ReadonlyMap<string, AnyTask>;
  client: TaskpoolClient;
  /** Answers `/health`, and lets a request that needs Redis fail at once (503) while Redis is away. */
  redis: RedisHealth;
  /** The root logger; the server logs through `logger.child({ component: 'http' })`. */
  logger: Logger;
  /** Largest request body, in bytes. Default: 1 MiB. */
  bodyLimitBytes?: number;
  /** How long a request waits on Redis before it gets 503 `REDIS_UNAVAILABLE`. Default: 5000 ms. */
  redisTimeoutMs?: number;
}

/** How long `/health` waits for Redis's PONG. */
const HEALTH_TIMEOUT_MS = 1_000;

/**
 * Builds the producer's HTTP API without listening (tests call `app.inject`):
 *
 * - `POST /v1/tasks/:name` (JSON input) → 202 `{ id }`; 400 `INVALID_INPUT` with field-level `issues`;
 *   404 `UNKNOWN_TASK`; 400 `BAD_REQUEST` (malformed JSON); 413 `PAYLOAD_TOO_LARGE`; 503 `REDIS_UNAVAILABLE`.
 * - `GET /v1/jobs/:id` → 200 `JobResponse` (`jobResponse.ts`); 404 `JOB_NOT_FOUND`; 503 `REDIS_UNAVAILABLE`.
 * - `GET /health` → 200 `{ ok: true }` when Redis answers PING, else 503.
 *
 * Every error answer is `{ error: { code, message, ...details } }`, its status from core's `errorHttpStatus`.
 */
export function buildServer(deps: BuildServerDeps): FastifyInstance {
  const { tasks, client, redis } = deps;
  const redisTimeoutMs = deps.redisTimeoutMs ?? 5_000;
  // Typed as Fastify's logger interface, so the app is a plain `FastifyInstance` (pino's Logger fits it).
  const loggerInstance: FastifyBaseLogger = deps.logger.child({ component: 'http' });
  const app = fastify({
    loggerInstance,
    bodyLimit: deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES,
    // One `http:request` line per request (the onResponse hook below) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
  });
  // JSON only: a text/plain body is refused (400) rather than handed to a task's schema as a string.
  app.removeContentTypeParser('text/plain');

  /** Runs a client call only while Redis is up, within the deadline: never a request that hangs. */
  const viaRedis = <T>(call: () => Promise<T>): Promise<T> => {
    if (!redis.up) return Promise.reject(new RedisUnavailableError());
    return withDeadline(call(), redisTimeoutMs);
  };

  app.post<{ Params: { name: string }; Body: unknown }>('/v1/tasks/:name', async (request, reply) => {
    const task = tasks.get(request.params.name);
    if (!task) throw new UnknownTaskError(request.params.name);
    // Parsed here too (the client parses again), so a bad input is a 400 even while Redis is away.
    parseTaskInput(task, request.body);
    const handle = await viaRedis(() => client.submit(task, request.body));
    return reply.code(202).header('location', `/v1/jobs/${encodeURIComponent(handle.id)}`).send({ id: handle.id });
  });

  app.get<{ Params: { id: string } }>('/v1/jobs/:id', async (request) => {
    const view = await viaRedis(() => client.getJob(request.params.id));
    if (!view) throw new JobNotFoundError(request.params.id);
    return toJobResponse(view);
  });

  app.get('/health', async (_request, reply) => {
    if (await redis.ping(HEALTH_TIMEOUT_MS)) return { ok: true };
    const body: HttpErrorBody = { error: { code: 'REDIS_UNAVAILABLE', message: 'Redis does not answer' } };
    return reply.code(503).send({ ok: false, ...body });
  });

  app.setNotFoundHandler(async (request, reply) => {
    const body: HttpErrorBody = { error: { code: 'ROUTE_NOT_FOUND', message: `No route ${request.method} ${request.url}` } };
    return reply.code(404).send(body);
  });

  app.setErrorHandler(async (error, request, reply) => {
    const { status, body } = toHttpError(error);
    const fields = { event: 'http:error', code: body.error.code, statusCode: status };
    // The stack only where it helps: an unexpected error. The caller never sees it.
    if (body.error.code === 'INTERNAL') request.log.error({ ...fields, err: error }, 'Unexpected error');
    else if (status >= 500) request.log.warn(fields, error instanceof Error ? error.message : body.error.message);
    else request.log.debug(fields, body.error.message);
    return reply.code(status).send(body);
  });

  app.addHook('onResponse', async (request, reply) => {
    const line = {
      event: 'http:request',
      method: request.method,
      url: request.url,
      statusCode: reply.statusCode,
      durationMs: Math.round(reply.elapsedTime * 10) / 10,
    };
    if (request.url === '/health') request.log.debug(line);
    else request.log.info(line);
  });

  return app;
}
