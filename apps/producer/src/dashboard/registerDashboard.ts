import { readFileSync } from 'node:fs';
import type { JobQuery, TaskpoolAdmin } from '@taskpool/core';
import rateLimit from '@fastify/rate-limit';
import { TaskpoolError } from '@taskpool/core';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TokenCheck } from '../auth/apiTokens.ts';
import { SESSION_COOKIE, SESSION_TTL_MS, sessionValue } from '../auth/session.ts';
import { overviewStats } from '../overviewStats.ts';
import { jobSearchSchema } from '../routes/jobRoutes.ts';
import { parseRequest } from '../routes/parseRequest.ts';
import type { RouteContext } from '../routes/routeContext.ts';
import { mountBullBoard } from './bullBoard.ts';
import type { SafeHtml } from './html.ts';
import { jobsFragment } from './jobsFragment.ts';
import { loginPage } from './layout.ts';
import { overviewFragment } from './overviewFragment.ts';
import { overviewPage } from './overviewPage.ts';

/** The dashboard's static files, read once: a script and a stylesheet, no build. */
const ASSETS: Record<string, { type: string; body: string }> = {
  'dashboard.js': { type: 'text/javascript; charset=utf-8', body: readAsset('dashboard.js') },
  'dashboard.css': { type: 'text/css; charset=utf-8', body: readAsset('dashboard.css') },
};

/** Scripts and styles from this origin only; no frames, no form posts elsewhere. */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

/**
 * The dashboard, behind the same tokens as the API:
 *
 * - `GET /dashboard/login` (public) → the login form; `POST /dashboard/login` (form: token, next) → 303 to
 *   `next` with a signed, HttpOnly, SameSite=Strict session cookie (12 h), or 401 with the form again; past
 *   `loginAttemptsPerMinute` attempts from one IP, 429 `RATE_LIMITED` (with `retry-after`).
 * - `POST /dashboard/logout` → 303 to the login page, cookie cleared.
 * - `GET /dashboard` (or `/dashboard/`) → the overview page; `GET /dashboard/fragments/overview` and `/dashboard/fragments/jobs?...`
 *   → the HTML its script swaps in (live refresh every 2 s, search results; `watch=id,...` keeps acted-on jobs in view).
 * - `GET /dashboard/assets/:file` (public) → its script and stylesheet.
 * - `/dashboard/queues` → Bull Board.
 *
 * Its buttons call the API (`/v1/jobs/:id/retry`, `/cancel`, `/v1/tasks/:name/retry-failed`) with the cookie.
 */
export function registerDashboard(app: FastifyInstance, ctx: RouteContext & { tokens: TokenCheck; loginAttemptsPerMinute: number }): void {
  void app.register(async (scope) => {
    // Guessing tokens through the login form: a few tries a minute per IP (@fastify/rate-limit, in memory, per process).
    await scope.register(rateLimit, { global: false });
    // Only the login form posts form-encoded data; the API accepts JSON alone.
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });

    scope.get<{ Querystring: { next?: string } }>('/dashboard/login', { config: { public: true } }, async (request, reply) =>
      sendHtml(reply, loginPage({ next: localNext(request.query.next) })),
    );

    const loginLimit = {
      max: ctx.loginAttemptsPerMinute,
      timeWindow: 60_000,
      errorResponseBuilder: (_request: unknown, limit: { after: string }) => new TaskpoolError('RATE_LIMITED', `Too many login attempts; try again in ${limit.after}`),
    };
    scope.post<{ Body: { token?: unknown; next?: unknown } }>('/dashboard/login', { config: { public: true, rateLimit: loginLimit } }, async (request, reply) => {
      const next = localNext(request.body?.next);
      const token = typeof request.body?.token === 'string' ? request.body.token : '';
      const fingerprint = ctx.tokens.match(token);
      if (fingerprint === undefined) {
        request.log.warn({ event: 'dashboard:login-refused', ip: request.ip });
        return sendHtml(reply.code(401), loginPage({ next, error: 'That token is not one of TASKPOOL_API_TOKENS.' }));
      }
      request.log.info({ event: 'dashboard:login', ip: request.ip });
      return reply
        .setCookie(SESSION_COOKIE, sessionValue(fingerprint), {
          signed: true,
          httpOnly: true,
          sameSite: 'strict',
          secure: request.protocol === 'https',
          path: '/',
          maxAge: SESSION_TTL_MS / 1000,
        })
        .redirect(next, 303);
    });

    scope.post('/dashboard/logout', async (_request, reply) => reply.clearCookie(SESSION_COOKIE, { path: '/' }).redirect('/dashboard/login', 303));

    // With a trailing slash too (Fastify tells them apart); the page's links are absolute, so both work.
    for (const url of ['/dashboard', '/dashboard/']) {
      scope.get(url, async (_request, reply) => sendHtml(reply, overviewPage(await ctx.viaRedis(() => overviewStats(ctx.admin, ctx.tasks)))));
    }

    scope.get('/dashboard/fragments/overview', async (_request, reply) =>
      sendHtml(reply, overviewFragment(await ctx.viaRedis(() => overviewStats(ctx.admin, ctx.tasks)))),
    );

    scope.get('/dashboard/fragments/jobs', async (request, reply) => {
      const { watch, ...search } = Object.fromEntries(Object.entries(request.query as Record<string, string>).filter(([, v]) => v !== ''));
      const query = parseRequest(jobSearchSchema, search, 'search');
      return sendHtml(reply, jobsFragment(await ctx.viaRedis(() => searchWithWatched(ctx.admin, query, watch))));
    });

    scope.get<{ Params: { file: string } }>('/dashboard/assets/:file', { config: { public: true } }, async (request, reply) => {
      const asset = ASSETS[request.params.file];
      if (!asset) return reply.callNotFound();
      return reply.type(asset.type).header('cache-control', 'no-cache').send(asset.body);
    });

    mountBullBoard(scope, ctx.admin);
  });
}

/** Most jobs the page may keep watching besides its search results. */
const MAX_WATCHED = 20;

/**
 * The search's matches, plus the jobs the page acted on (`watch=id,id`) that no longer match: a job retried
 * from a search by its error text has no error any more, and must stay in view while it runs and completes.
 */
async function searchWithWatched(admin: TaskpoolAdmin, query: JobQuery & { id?: string }, watch: string | undefined) {
  const found = await admin.searchJobs(query);
  const seen = new Set(found.jobs.map((job) => job.id));
  const extra = (watch ?? '').split(',').filter((id) => id !== '' && !seen.has(id)).slice(0, MAX_WATCHED);
  const watched = await Promise.all(extra.map(async (id) => (await admin.searchJobs({ id })).jobs));
  return { jobs: [...watched.flat(), ...found.jobs], truncated: found.truncated };
}

function sendHtml(reply: FastifyReply, page: SafeHtml): FastifyReply {
  return reply
    .type('text/html; charset=utf-8')
    .header('content-security-policy', CSP)
    .header('x-content-type-options', 'nosniff')
    .header('cache-control', 'no-store')
    .send(page.text);
}

/** Where to go after logging in: a dashboard path of this site, never another origin (no open redirect). */
function localNext(next: unknown): string {
  return typeof next === 'string' && /^\/dashboard(\/[\w\-./?=&%]*)?$/.test(next) && !next.includes('//') ? next : '/dashboard';
}

function readAsset(name: string): string {
  return readFileSync(new URL(`./assets/${name}`, import.meta.url), 'utf8');
}
