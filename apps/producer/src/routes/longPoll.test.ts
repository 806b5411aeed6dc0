import { getEventListeners } from 'node:events';
import { createLogger, defineTask, type JobView, type TaskpoolAdmin, type TaskpoolClient, type WorkflowHandle } from '@taskpool/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { buildServer } from '../buildServer.ts';
import type { RedisHealth } from '../redisHealth.ts';

// No Redis: a fake client whose jobs and workflows never finish, so every poll waits its whole waitMs.
const echo = defineTask({ name: 'test.echo', input: z.object({ text: z.string() }), output: z.object({ text: z.string() }), run: ({ text }) => ({ text }) });
const TOKEN = 'unit-test-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };
const POLLS = 100;

/** A promise that rejects after `ms`, as a handle's wait does when its timeout passes. */
const timesOut = (ms: number): Promise<never> => new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), ms));

const view: JobView = { id: 'j1', task: echo.name, queue: 'default', state: 'active', attempts: 0, progress: 0, input: { text: 'hi' }, createdAt: 0 };
const workflowHandle = {
  id: 'w1',
  settled: ({ timeoutMs }: { timeoutMs: number }) => timesOut(timeoutMs),
  status: async () => ({ id: 'w1', state: 'active', root: { id: 'w1', queue: 'default', task: echo.name, state: 'active', attempts: 0, children: [] } }),
} as unknown as WorkflowHandle<unknown>;
const client = {
  getJob: async () => view,
  handle: () => ({ result: ({ timeoutMs }: { timeoutMs: number }) => timesOut(timeoutMs) }),
  workflow: async () => workflowHandle,
} as unknown as TaskpoolClient;

function build() {
  const redis: RedisHealth = { up: true, whenUp: async () => true, ping: async () => true, close: async () => {} };
  return buildServer({
    tasks: new Map([[echo.name, echo]]),
    client,
    admin: { queueNames: [], queue: () => undefined } as unknown as TaskpoolAdmin,
    tokens: [TOKEN],
    redis,
    logger: createLogger({ level: 'silent' }),
  });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe.each([
  ['GET /v1/workflows/:id', '/v1/workflows/w1?waitMs=5'],
  ['GET /v1/jobs/:id', '/v1/jobs/j1?waitMs=5'],
])('%s long-polls', (_route, url) => {
  it(`leave no abort listener behind: ${POLLS} polls, the listener count unchanged, no MaxListenersExceededWarning`, async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on('warning', onWarning);
    // The signals the routes listen on (the server's closing signal), found as they get their listeners.
    const signals = new Set<AbortSignal>();
    const add = AbortSignal.prototype.addEventListener;
    vi.spyOn(AbortSignal.prototype, 'addEventListener').mockImplementation(function (this: AbortSignal, ...args: Parameters<AbortSignal['addEventListener']>) {
      if (args[0] === 'abort') signals.add(this);
      add.apply(this, args);
    });
    const app = build();
    try {
      const first = await app.inject({ method: 'GET', url, headers: auth });
      expect(first.statusCode).toBe(200);
      expect(signals.size).toBeGreaterThan(0);
      const counts = (): number[] => [...signals].map((signal) => getEventListeners(signal, 'abort').length);
      const before = counts();
      for (let i = 0; i < POLLS; i++) {
        const res = await app.inject({ method: 'GET', url, headers: auth });
        expect(res.statusCode).toBe(200);
        expect(res.json().state).toBe('active');
      }
      expect(counts()).toEqual(before);
      // Node emits the warning on the next tick after the 11th listener.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await app.close();
    }
  });
});
