import { ObjectNotFoundError } from '@taskpool/core';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseRequest } from './parseRequest.ts';
import type { RouteContext } from './routeContext.ts';

const putQuerySchema = z.object({ ttlMs: z.coerce.number().int().positive().optional() });
/** What taskpool makes: UUIDs; never a path. */
const idSchema = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'not an object id') });

/**
 * Objects by reference over HTTP (issue #15), for callers that submit tasks over HTTP:
 * - `POST /v1/objects[?ttlMs=N]` with `content-type: application/octet-stream` → 201 `{ ref }`: the body is
 *   streamed into the object store, never held whole by Fastify's body parser; one past the client's
 *   `objects.maxBytes` (`TASKPOOL_MAX_OBJECT_BYTES`) is refused with 413 `PAYLOAD_TOO_LARGE` and nothing is kept.
 * - `GET /v1/objects/:id` → 200 the bytes (`application/octet-stream`), checked against their SHA-256;
 *   404 `OBJECT_NOT_FOUND`.
 */
export function objectRoutes(app: FastifyInstance, ctx: RouteContext): void {
  // The raw request stream, for this route alone (the JSON routes keep their parser and body limit).
  app.register(async (scope) => {
    scope.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));
    scope.post('/v1/objects', async (request, reply) => {
      const { ttlMs } = parseRequest(putQuerySchema, request.query, 'query');
      const body = request.body as NodeJS.ReadableStream;
      // Not under viaRedis's deadline: an upload takes as long as the caller sends. The client's connection fails
      // at once while Redis is away (RedisUnavailableError, 503).
      const ref = await ctx.client.put(body, ttlMs === undefined ? {} : { ttlMs });
      return reply.code(201).send({ ref });
    });
  });

  app.get<{ Params: { id: string } }>('/v1/objects/:id', async (request, reply) => {
    const { id } = parseRequest(idSchema, request.params, 'path');
    const bytes = await ctx.viaRedis(() => ctx.client.objectBytes(id));
    if (!bytes) throw new ObjectNotFoundError(id);
    return reply.type('application/octet-stream').send(bytes);
  });
}
