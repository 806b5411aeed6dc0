import { describe, expect, it } from 'vitest';
import { startProducerStack } from './helpers/producerStack.ts';
import { TEST_TOKEN } from './helpers/testToken.ts';
import { redisUrl, testPrefix } from './helpers/testRedis.ts';

const prefix = testPrefix(import.meta.url);
const form = (token: string) => ({
  method: 'POST' as const,
  url: '/dashboard/login',
  headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: '' },
  body: new URLSearchParams({ token, next: '/dashboard' }).toString(),
});

describe('dashboard login', () => {
  it('allows a few attempts a minute per IP, then answers 429 RATE_LIMITED, even to the right token', async () => {
    await using stack = await startProducerStack({ redisUrl: redisUrl(), prefix, loginAttemptsPerMinute: 3 });
    const first = await stack.request(form(TEST_TOKEN));
    expect(first.statusCode).toBe(303);
    expect(first.headers['set-cookie']).toBeDefined();
    for (let i = 0; i < 2; i++) expect((await stack.request(form('wrong-token'))).statusCode).toBe(401);
    const limited = await stack.request(form(TEST_TOKEN));
    expect(limited.statusCode).toBe(429);
    expect(limited.json<{ error: { code: string } }>().error.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.headers['set-cookie']).toBeUndefined();
    // The API itself is not limited by failed logins.
    expect((await stack.request({ method: 'GET', url: '/v1/tasks' })).statusCode).toBe(200);
  });
});

describe('the dashboard with a trailing slash', () => {
  it('serves /dashboard/ as /dashboard, behind the same login', async () => {
    await using stack = await startProducerStack({ redisUrl: redisUrl(), prefix });
    const page = (url: string) => stack.request({ method: 'GET', url, headers: { accept: 'text/html' } });
    const plain = await page('/dashboard');
    const slashed = await page('/dashboard/');
    expect(plain.statusCode).toBe(200);
    expect(slashed.statusCode).toBe(200);
    expect(slashed.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(slashed.body).toContain('<a href="/dashboard/queues">');
    expect(slashed.body.replace(/\d+/g, '0')).toBe(plain.body.replace(/\d+/g, '0'));
    // Without a token or session: the login page, then back to the page asked for.
    const anonymous = await stack.app.inject({ method: 'GET', url: '/dashboard/', headers: { accept: 'text/html' } });
    expect(anonymous.statusCode).toBe(303);
    expect(anonymous.headers.location).toBe('/dashboard/login?next=%2Fdashboard%2F');
    const api = await stack.app.inject({ method: 'GET', url: '/dashboard/' });
    expect(api.statusCode).toBe(401);
  });
});
