import fastifyCookie from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { HttpErrorBody } from '../httpError.ts';
import { bearerToken, createTokenCheck, type TokenCheck } from './apiTokens.ts';
import { isLiveSession, SESSION_COOKIE, sessionSecret } from './session.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route answers without a token (`/health`, the login page, static assets). */
    public?: boolean;
  }
  interface FastifyRequest {
    /** How the request proved who it is; set by the auth hook on every non-public route. */
    authVia?: 'token' | 'session';
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Guards every route but those marked `config: { public: true }`, before the body is read (so a refused
 * request costs nothing and does nothing): an `Authorization: Bearer <token>` header, or the dashboard's
 * signed session cookie. A cookie-authenticated request that changes something must come from this
 * origin (its `Origin` header names this host): the CSRF guard, beside `SameSite=Strict`.
 * Unknown routes need a token too, so they reveal nothing to a caller without one.
 */
export function registerAuth(app: FastifyInstance, tokens: readonly string[]): TokenCheck {
  const check = createTokenCheck(tokens);
  void app.register(fastifyCookie, { secret: sessionSecret(tokens) });
  app.decorateRequest('authVia', undefined);
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.config.public) return;
    const header = request.headers.authorization;
    if (header !== undefined) {
      const token = bearerToken(header);
      if (token !== undefined && check.match(token) !== undefined) return void (request.authVia = 'token');
      return refuse(reply, 'The bearer token is missing, malformed or not one of TASKPOOL_API_TOKENS');
    }
    if (hasLiveSession(request, check)) {
      if (!SAFE_METHODS.has(request.method) && !isSameOrigin(request)) return refuse(reply, 'Cross-origin request refused');
      return void (request.authVia = 'session');
    }
    if (isDashboardPage(request)) {
      return reply.redirect(`/dashboard/login?next=${encodeURIComponent(request.url)}`, 303);
    }
    return refuse(reply, 'Authentication required: send Authorization: Bearer <token>');
  });
  return check;
}

function hasLiveSession(request: FastifyRequest, check: TokenCheck): boolean {
  const raw = request.cookies[SESSION_COOKIE];
  if (raw === undefined) return false;
  const unsigned = request.unsignCookie(raw);
  return unsigned.valid && unsigned.value !== null && isLiveSession(unsigned.value, check);
}

/** A browser asking for a dashboard page gets the login page (then back) instead of a 401. */
function isDashboardPage(request: FastifyRequest): boolean {
  return request.method === 'GET' && /^\/dashboard(\/|$|\?)/.test(request.url) && (request.headers.accept ?? '').includes('text/html');
}

/** True when the browser says the request comes from a page of this very host. */
function isSameOrigin(request: FastifyRequest): boolean {
  const { origin, host } = request.headers;
  if (origin === undefined || host === undefined) return false;
  try {
    const from = new URL(origin);
    // The Host header read with the origin's scheme, so a default port (`:80`) compares equal to none.
    return from.host === new URL(`${from.protocol}//${host}`).host;
  } catch {
    return false;
  }
}

function refuse(reply: FastifyReply, message: string): FastifyReply {
  const body: HttpErrorBody = { error: { code: 'UNAUTHORIZED', message } };
  return reply.code(401).header('www-authenticate', 'Bearer realm="taskpool"').send(body);
}
