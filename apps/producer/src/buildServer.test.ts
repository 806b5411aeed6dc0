import { ConfigError, createLogger, defineTask, type JobView, type TaskpoolAdmin, type TaskpoolClient } from '@taskpool/core';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { buildServer, type BuildServerDeps } from './buildServer.ts';
import type { RedisHealth } from './redisHealth.ts';

// No Redis here: a fake client and a fake Redis health check. The real ones are in test/producerApi.test.ts.
const echo = defineTask({
  name: 'test.echo',
  input: z.object({ text: z.string() }),
  output: z.object({ text: z.string() }),
  run: ({ text }) => ({ text }),
});

const TOKEN = 'unit-test-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };

function build(client: Partial<TaskpoolClient>, options: Partial<Omit<BuildServerDeps, 'client'>> & { up?: boolean } = {}) {
  const redis: RedisHealth = {
    up: options.up ?? true,
    whenUp: async () => options.up ?? true,
    ping: async () => options.up ?? true,
    close: async () => {},
  };
  return buildServer({
    tasks: new Map([[echo.name, echo]]),
    client: client as TaskpoolClient,
    admin: { queueNames: [], queue: () => undefined } as unknown as TaskpoolAdmin,
    tokens: [TOKEN],
    redis,
    logger: createLogger({ level: 'silent' }),
    ...options,
  });
}

const post = (body: string, contentType = 'application/json') => ({
  method: 'POST' as const,
  url: '/v1/tasks/test.echo',
  headers: { 'content-type': contentType, ...auth },
  body,
});

describe('buildServer error mapping', () => {
  it('answers an unexpected error with 500 INTERNAL, without its message or stack', async () => {
    const app = build({ submit: () => Promise.reject(new Error('secret detail at /srv/app.ts:12')) });
    const res = await app.inject(post('{"text":"hi"}'));
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: { code: 'INTERNAL', message: 'Internal server error' } });
    expect(res.body).not.toContain('secret');
    await app.close();
  });

  it('answers 503 REDIS_UNAVAILABLE at once while Redis is down, without calling the client', async () => {
    const submit = vi.fn();
    const app = build({ submit }, { up: false });
    const res = await app.inject(post('{"text":"hi"}'));
    expect(res.statusCode).toBe(503);
    expect(res.json().error.code).toBe('REDIS_UNAVAILABLE');
    expect(submit).not.toHaveBeenCalled();
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(503);
    await app.close();
  });

  it('answers 503 when a client call outlives the Redis deadline', async () => {
    const app = build({ getJob: () => new Promise<never>(() => {}) }, { redisTimeoutMs: 50 });
    const res = await app.inject({ method: 'GET', url: '/v1/jobs/abc', headers: auth });
    expect(res.statusCode).toBe(503);
    expect(res.json().error).toEqual({ code: 'REDIS_UNAVAILABLE', message: 'Redis did not answer within 50 ms' });
    await app.close();
  });

  it("maps ioredis's fail-fast error to 503 REDIS_UNAVAILABLE", async () => {
    const offline = new Error("Stream isn't writeable and enableOfflineQueue options is false");
    const app = build({ getJob: () => Promise.reject(offline) });
    const res = await app.inject({ method: 'GET', url: '/v1/jobs/abc', headers: auth });
    expect(res.statusCode).toBe(503);
    expect(res.json().error.code).toBe('REDIS_UNAVAILABLE');
    await app.close();
  });

  it('answers malformed JSON with 400 BAD_REQUEST, a body not declared JSON with 415 and an oversized one with 413', async () => {
    const submit = vi.fn();
    const app = build({ submit }, { bodyLimitBytes: 64 });
    const malformed = await app.inject(post('{"n": '));
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().error.code).toBe('BAD_REQUEST');
    const plain = await app.inject(post('hi', 'text/plain'));
    expect(plain.statusCode).toBe(415);
    expect(plain.json().error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const large = await app.inject(post(JSON.stringify({ text: 'x'.repeat(100) })));
    expect(large.statusCode).toBe(413);
    expect(large.json().error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(submit).not.toHaveBeenCalled();
    await app.close();
  });

  it('answers an unknown route with 404 ROUTE_NOT_FOUND in the same error shape', async () => {
    const app = build({});
    const res = await app.inject({ method: 'GET', url: '/v1/nothing', headers: auth });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: { code: 'ROUTE_NOT_FOUND', message: 'No route GET /v1/nothing' } });
    await app.close();
  });
});

describe('buildServer auth', () => {
  it('answers 401 UNAUTHORIZED without a token or with a wrong one, before reading the body', async () => {
    const submit = vi.fn();
    const app = build({ submit }, { bodyLimitBytes: 64 });
    for (const headers of [{}, { authorization: 'Bearer wrong-token' }, { authorization: `Basic ${TOKEN}` }]) {
      const res = await app.inject({ method: 'POST', url: '/v1/tasks/test.echo', headers: { 'content-type': 'application/json', ...headers }, body: 'x'.repeat(100) });
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe('UNAUTHORIZED');
      expect(res.headers['www-authenticate']).toContain('Bearer');
    }
    expect(submit).not.toHaveBeenCalled();
    await app.close();
  });

  it('answers /health without a token', async () => {
    const app = build({});
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    await app.close();
  });

  it('sends a browser without a session from a dashboard page to the login page', async () => {
    const app = build({});
    const res = await app.inject({ method: 'GET', url: '/dashboard', headers: { accept: 'text/html' } });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/dashboard/login?next=%2Fdashboard');
    await app.close();
  });
});

describe('GET /v1/jobs/:id', () => {
  it('shows a failed job without the input or any stack trace', async () => {
    const view: JobView = {
      id: 'j1',
      task: 'test.echo',
      queue: 'default',
      state: 'failed',
      attempts: 2,
      progress: 0,
      input: { text: 'private' },
      createdAt: 1,
      finishedAt: 2,
      error: {
        name: 'QuotaError',
        message: 'quota exceeded',
        code: 'E_QUOTA',
        stack: 'QuotaError: quota exceeded\n    at /srv/tasks.ts:3',
        fields: { retryAfterMs: 1234 },
        cause: { name: 'RangeError', message: 'limit', stack: 'RangeError: limit\n    at /srv/tasks.ts:9' },
      },
    };
    const app = build({ getJob: async () => view });
    const res = await app.inject({ method: 'GET', url: '/v1/jobs/j1', headers: auth });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      id: 'j1',
      task: 'test.echo',
      queue: 'default',
      state: 'failed',
      attempts: 2,
      progress: 0,
      createdAt: 1,
      finishedAt: 2,
      error: {
        name: 'QuotaError',
        message: 'quota exceeded',
        code: 'E_QUOTA',
        fields: { retryAfterMs: 1234 },
        cause: { name: 'RangeError', message: 'limit' },
      },
    });
    await app.close();
  });
});

describe('buildServer behind a proxy (trustProxy)', () => {
  /** A dashboard login with the right token, as the proxy forwards it from `client`. */
  const login = (client: string, proto = 'https') => ({
    method: 'POST' as const,
    url: '/dashboard/login',
    remoteAddress: '10.0.0.2',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': client, 'x-forwarded-proto': proto },
    body: new URLSearchParams({ token: TOKEN, next: '/dashboard' }).toString(),
  });
  const cookieOf = (res: { headers: Record<string, unknown> }): string => String(res.headers['set-cookie']);

  it('trusting the proxy: the session cookie is Secure behind TLS, and the login limit counts each client apart', async () => {
    const app = build({}, { trustProxy: ['10.0.0.0/8'], loginAttemptsPerMinute: 2 });
    const first = await app.inject(login('203.0.113.7'));
    expect(first.statusCode).toBe(303);
    expect(cookieOf(first)).toMatch(/; Secure/);
    expect((await app.inject(login('203.0.113.7'))).statusCode).toBe(303);
    expect((await app.inject(login('203.0.113.7'))).statusCode).toBe(429);
    // Another client behind the same proxy has its own allowance.
    const other = await app.inject(login('198.51.100.9'));
    expect(other.statusCode).toBe(303);
    // Plain HTTP to the proxy: no Secure flag (the browser would drop the cookie).
    expect(cookieOf(await app.inject(login('192.0.2.1', 'http')))).not.toMatch(/Secure/);
    await app.close();
  });

  it('not trusting it (the default): forwarded headers are ignored, so every client counts as the proxy', async () => {
    const app = build({}, { loginAttemptsPerMinute: 2 });
    const first = await app.inject(login('203.0.113.7'));
    expect(first.statusCode).toBe(303);
    expect(cookieOf(first)).not.toMatch(/Secure/);
    expect((await app.inject(login('198.51.100.9'))).statusCode).toBe(303);
    expect((await app.inject(login('192.0.2.1'))).statusCode).toBe(429);
    await app.close();
  });

  it('does not trust forwarded headers from an address outside the trusted list', async () => {
    const app = build({}, { trustProxy: ['10.0.0.0/8'], loginAttemptsPerMinute: 1 });
    const spoofed = { ...login('203.0.113.7'), remoteAddress: '192.0.2.50' };
    expect(cookieOf(await app.inject(spoofed))).not.toMatch(/Secure/);
    expect((await app.inject({ ...spoofed, headers: { ...spoofed.headers, 'x-forwarded-for': '198.51.100.9' } })).statusCode).toBe(429);
    await app.close();
  });
});

describe('buildServer tokens', () => {
  it('refuses to build with a token shorter than 16 characters', () => {
    expect(() => build({}, { tokens: [TOKEN, 'short-token'] })).toThrow(ConfigError);
    expect(() => build({}, { tokens: ['fifteen-chars-x'] })).toThrow(/16 characters/);
  });
});
