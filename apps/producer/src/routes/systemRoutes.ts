import type { FastifyInstance } from 'fastify';
import type { HttpErrorBody } from '../httpError.ts';
import type { ProducerMetrics } from '../metrics/producerMetrics.ts';
import { openApiDocument } from '../openApiDocument.ts';
import { overviewStats } from '../overviewStats.ts';
import type { RedisHealth } from '../redisHealth.ts';
import type { RouteContext } from './routeContext.ts';

/** How long `/health` waits for Redis's PONG. */
const HEALTH_TIMEOUT_MS = 1_000;

/**
 * - `GET /health` (no token) → 200 `{ ok: true }` when Redis answers PING, else 503.
 * - `GET /metrics` → Prometheus text (see `metrics/producerMetrics.ts`).
 * - `GET /openapi.json` → the OpenAPI 3.1 document.
 * - `GET /v1/workers` → 200 `{ workers }`, those with a fresh heartbeat.
 * - `GET /v1/stats` → 200 the overview (`overviewStats.ts`).
 */
export function systemRoutes(app: FastifyInstance, ctx: RouteContext & { redis: RedisHealth; metrics: ProducerMetrics }): void {
  const openApi = openApiDocument(ctx.tasks);

  app.get('/health', { config: { public: true } }, async (_request, reply) => {
    if (await ctx.redis.ping(HEALTH_TIMEOUT_MS)) return { ok: true };
    const body: HttpErrorBody = { error: { code: 'REDIS_UNAVAILABLE', message: 'Redis does not answer' } };
    return reply.code(503).send({ ok: false, ...body });
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await ctx.viaRedis(() => ctx.metrics.registry.metrics());
    return reply.type(ctx.metrics.registry.contentType).send(text);
  });

  app.get('/openapi.json', async () => openApi);

  app.get('/v1/workers', async () => ({ workers: await ctx.viaRedis(() => ctx.admin.workers()) }));

  app.get('/v1/stats', async () => ctx.viaRedis(() => overviewStats(ctx.admin, ctx.tasks)));
}
