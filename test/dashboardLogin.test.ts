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
