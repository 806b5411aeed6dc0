import { describe, expect, it } from 'vitest';
import { AUTH, TEST_TOKEN, useProducerStack } from './helpers/producerStack.ts';
import { expectNothingWritten } from './helpers/testRedis.ts';

const stack = useProducerStack();

/** Every route but /health, with a body where it takes one. */
const ROUTES: { method: 'GET' | 'POST'; url: string; body?: unknown }[] = [
  { method: 'GET', url: '/v1/tasks' },
  { method: 'POST', url: '/v1/tasks/test.sumSqrt', body: { n: 10 } },
  { method: 'POST', url: '/v1/tasks/test.sumSqrt/batch', body: { inputs: [{ n: 10 }] } },
  { method: 'POST', url: '/v1/tasks/test.failing/retry-failed' },
  { method: 'GET', url: '/v1/jobs?task=test.sumSqrt' },
  { method: 'GET', url: '/v1/jobs/some-id' },
  { method: 'POST', url: '/v1/jobs/some-id/retry' },
  { method: 'POST', url: '/v1/jobs/some-id/cancel' },
  { method: 'POST', url: '/v1/workflows', body: { task: 'test.sumSqrt', input: { n: 10 } } },
  { method: 'GET', url: '/v1/workflows/some-id' },
  { method: 'POST', url: '/v1/workflows/some-id/cancel' },
  { method: 'POST', url: '/v1/objects' },
  { method: 'GET', url: '/v1/objects/some-id' },
  { method: 'GET', url: '/v1/workers' },
  { method: 'GET', url: '/v1/stats' },
  { method: 'GET', url: '/metrics' },
  { method: 'GET', url: '/openapi.json' },
  { method: 'GET', url: '/dashboard' },
  { method: 'GET', url: '/dashboard/fragments/overview' },
  { method: 'GET', url: '/dashboard/fragments/jobs?state=failed' },
  { method: 'GET', url: '/dashboard/queues/api/queues' },
  { method: 'POST', url: '/dashboard/logout' },
  { method: 'GET', url: '/v1/no-such-route' },
];

describe('every route but /health needs a token', () => {
  for (const [name, authorization] of [
    ['no token', undefined],
    ['a wrong token', 'Bearer not-the-token-000000000000'],
    ['a token prefix', `Bearer ${TEST_TOKEN.slice(0, -1)}`],
    ['another scheme', `Basic ${TEST_TOKEN}`],
  ] as const) {
    it(`answers 401 UNAUTHORIZED to ${name}, and writes nothing`, async () => {
      await expectNothingWritten(stack.prefix, async () => {
        for (const route of ROUTES) {
          const res = await stack.app.inject({
            method: route.method,
            url: route.url,
            headers: { ...(authorization && { authorization }), ...(route.body !== undefined && { 'content-type': 'application/json' }) },
            ...(route.body !== undefined && { body: JSON.stringify(route.body) }),
          });
          expect(res.statusCode, `${route.method} ${route.url}`).toBe(401);
          expect(res.json().error.code).toBe('UNAUTHORIZED');
        }
      });
    });
  }

  it('answers /health without one', async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(200);
  });

  it('lets the right token through', async () => {
    expect((await stack.request({ method: 'GET', url: '/v1/tasks' })).statusCode).toBe(200);
  });
});

describe('dashboard login', () => {
  const login = (token: string, next = '/dashboard') =>
    stack.app.inject({
      method: 'POST',
      url: '/dashboard/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, next }).toString(),
    });
  const cookieOf = (res: Awaited<ReturnType<typeof login>>) => String(res.headers['set-cookie']).split(';')[0]!;

  it('serves the login page without a token, and sends a browser there from the dashboard', async () => {
    const page = await stack.app.inject({ method: 'GET', url: '/dashboard/login' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.body).toContain('name="token"');
    const redirect = await stack.app.inject({ method: 'GET', url: '/dashboard', headers: { accept: 'text/html' } });
    expect(redirect.statusCode).toBe(303);
    expect(redirect.headers.location).toBe('/dashboard/login?next=%2Fdashboard');
  });

  it('refuses a wrong token with 401 and no cookie', async () => {
    const res = await login('wrong-token-wrong-token');
    expect(res.statusCode).toBe(401);
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(res.body).toContain('not one of TASKPOOL_API_TOKENS');
  });

  it('sets a signed HttpOnly SameSite=Strict cookie for the right token, which opens the dashboard', async () => {
    const res = await login(TEST_TOKEN);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/dashboard');
    const setCookie = String(res.headers['set-cookie']);
    expect(setCookie).toMatch(/^taskpool_session=[^;]+;/);
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Strict');
    expect(setCookie).not.toContain(TEST_TOKEN);
    const page = await stack.app.inject({ method: 'GET', url: '/dashboard', headers: { cookie: cookieOf(res) } });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('id="overview"');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    const board = await stack.app.inject({ method: 'GET', url: '/dashboard/queues/api/queues', headers: { cookie: cookieOf(res) } });
    expect(board.statusCode).toBe(200);
  });

  it('refuses a tampered cookie', async () => {
    const cookie = cookieOf(await login(TEST_TOKEN));
    const [name, value] = cookie.split('=') as [string, string];
    const tampered = `${name}=${value.replace(/\.(\d+)\./, (_, n: string) => `.${Number(n) + 1}.`)}`;
    expect(tampered).not.toBe(cookie);
    const res = await stack.app.inject({ method: 'GET', url: '/v1/workers', headers: { cookie: tampered } });
    expect(res.statusCode).toBe(401);
  });

  it('accepts a cookie-authenticated POST only from this origin (CSRF)', async () => {
    const cookie = cookieOf(await login(TEST_TOKEN));
    const post = (headers: Record<string, string>) => stack.app.inject({ method: 'POST', url: '/v1/jobs/nope/retry', headers: { cookie, host: 'localhost:80', ...headers } });
    expect((await post({})).statusCode).toBe(401);
    expect((await post({ origin: 'https://evil.example' })).statusCode).toBe(401);
    // Past auth: the job does not exist.
    expect((await post({ origin: 'http://localhost:80' })).statusCode).toBe(404);
  });

  it('never redirects off the site after login', async () => {
    for (const next of ['https://evil.example/', '//evil.example', '/v1/jobs', '/dashboard//evil.example']) {
      const res = await login(TEST_TOKEN, next);
      expect(res.headers.location, next).toBe('/dashboard');
    }
  });

  it('logs out: the cookie is cleared', async () => {
    const cookie = cookieOf(await login(TEST_TOKEN));
    const res = await stack.app.inject({ method: 'POST', url: '/dashboard/logout', headers: { cookie, host: 'localhost:80', origin: 'http://localhost:80' } });
    expect(res.statusCode).toBe(303);
    expect(String(res.headers['set-cookie'])).toMatch(/taskpool_session=;/);
  });

  it('takes a bearer token on dashboard routes too (scripts)', async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/dashboard/fragments/overview', headers: AUTH });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('id="workers"');
  });
});
