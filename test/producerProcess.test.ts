import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { createClient } from '@taskpool/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH, TEST_TOKEN } from './helpers/testToken.ts';
import { spawnProducer, spawnService, type ProducerService } from './helpers/spawnService.ts';
import { redisUrl, testPrefix } from './helpers/testRedis.ts';

const prefix = testPrefix(import.meta.url);
let producer: ProducerService;

beforeAll(async () => {
  producer = await spawnProducer({ redisUrl: redisUrl(), prefix, tasks: 'test/fixtures/tasks.ts' });
});

afterAll(async () => {
  await producer?.stop('SIGKILL');
});

describe('taskpool-producer process', () => {
  it('logs producer:ready with the real port it picked for --port 0', () => {
    const { port } = new URL(producer.url);
    expect(Number(port)).toBeGreaterThan(0);
  });

  it('accepts a task over HTTP and enqueues it under its prefix', async () => {
    const res = await fetch(`${producer.url}/v1/tasks/test.sumSqrt`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...AUTH },
      body: JSON.stringify({ n: 10 }),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };

    // No worker runs: the job waits, and another client on the same prefix sees it.
    await using client = createClient({ redisUrl: redisUrl(), prefix });
    expect(await client.getJob(id)).toMatchObject({ id, task: 'test.sumSqrt', state: 'waiting' });
    const job = await fetch(`${producer.url}/v1/jobs/${id}`, { headers: AUTH });
    expect(job.status).toBe(200);
    expect(await job.json()).toMatchObject({ id, task: 'test.sumSqrt', state: 'waiting', attempts: 0 });
  });

  it('refuses a request without the token with 401', async () => {
    const res = await fetch(`${producer.url}/v1/jobs/whatever`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
  });

  it('answers /health', async () => {
    const res = await fetch(`${producer.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it('exits 0 on SIGTERM after closing', async () => {
    expect(await producer.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(producer.lines.some((line) => line.event === 'producer:exit')).toBe(true);
  });
});

describe('taskpool-producer configuration', () => {
  it('exits 2 with the usage when no task module is given', async () => {
    const service = spawnService('taskpool-producer', [], { REDIS_URL: redisUrl(), TASKPOOL_PREFIX: prefix, TASKPOOL_TASKS: '', TASKPOOL_API_TOKENS: TEST_TOKEN });
    expect(await service.exited).toEqual({ code: 2, signal: null });
    expect(service.stderr.join('')).toContain('No task module');
  });

  it('exits 2 naming TASKPOOL_PORT, without a stack, when the port is in use', async () => {
    await using busy = await listeningServer();
    const args = ['--tasks', 'test/fixtures/tasks.ts', '--port', String(busy.port)];
    const service = spawnService('taskpool-producer', args, { REDIS_URL: redisUrl(), TASKPOOL_PREFIX: prefix, TASKPOOL_API_TOKENS: TEST_TOKEN });
    expect(await service.exited).toEqual({ code: 2, signal: null });
    const stderr = service.stderr.join('');
    expect(stderr).toContain(`Port ${busy.port} on 127.0.0.1 is already in use: set TASKPOOL_PORT`);
    expect(stderr).not.toMatch(/EADDRINUSE|\n\s+at /);
  });

  it('exits 2 naming TASKPOOL_API_TOKENS when no token is set', async () => {
    const args = ['--tasks', 'test/fixtures/tasks.ts', '--port', '0'];
    const service = spawnService('taskpool-producer', args, { REDIS_URL: redisUrl(), TASKPOOL_PREFIX: prefix, TASKPOOL_API_TOKENS: '' });
    expect(await service.exited).toEqual({ code: 2, signal: null });
    expect(service.stderr.join('')).toContain('TASKPOOL_API_TOKENS');
  });
});

/** A TCP server on a free loopback port, holding it until disposed. */
async function listeningServer(): Promise<{ port: number } & AsyncDisposable> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    [Symbol.asyncDispose]: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
