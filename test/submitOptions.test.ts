import { Job, Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { IdempotencyConflictError, idempotentJobId } from '@taskpool/core';
import { nap, square } from './fixtures/mapTasks.ts';
import { rejectionOf } from './helpers/rejectionOf.ts';
import { redisUrl } from './helpers/testRedis.ts';
import { useTestStack } from './helpers/useTestStack.ts';

const stack = useTestStack({ tasksModule: 'test/fixtures/mapTasks.ts' });
const queue = new Queue('default', { connection: { url: redisUrl() }, prefix: stack.prefix });

afterAll(async () => {
  await queue.close();
});

describe('idempotency keys', () => {
  it('returns the first job for a second submit with the same key and input', async () => {
    const first = await stack.client.submit(square, 12, { idempotencyKey: 'order-12' });
    const second = await stack.client.submit(square, 12, { idempotencyKey: 'order-12' });
    expect(second.id).toBe(first.id);
    expect(first.id).toBe(idempotentJobId(square.name, 'order-12'));
    expect(await second.result({ timeoutMs: 20_000 })).toBe(145);
    // After it ran, still the same job, not a second run.
    const third = await stack.client.submit(square, 12, { idempotencyKey: 'order-12' });
    expect(third.id).toBe(first.id);
    expect((await third.status())?.attempts).toBe(1);
    expect((await queue.getJobs(['completed', 'waiting', 'active'])).filter((j) => j.id === first.id)).toHaveLength(1);
  });

  it('refuses the same key with another input, and scopes keys per task', async () => {
    await stack.client.submit(square, 1, { idempotencyKey: 'shared-key' });
    const error = await rejectionOf(stack.client.submit(square, 2, { idempotencyKey: 'shared-key' }), IdempotencyConflictError);
    expect(error.code).toBe('CONFLICT');
    const other = await stack.client.submit(nap, { id: 'n', ms: 1 }, { idempotencyKey: 'shared-key' });
    expect(other.id).not.toBe(idempotentJobId(square.name, 'shared-key'));
  });
});

describe('per-submit overrides', () => {
  it('puts attempts, backoff, priority and delay in the job options, and timeoutMs beside them for the worker', async () => {
    const handle = await stack.client.submit(
      nap,
      { id: 'opts', ms: 1 },
      { attempts: 4, backoff: { type: 'fixed', delayMs: 250 }, priority: 3, delayMs: 60_000, timeoutMs: 1_234 },
    );
    const job = await Job.fromId(queue, handle.id);
    expect(job?.opts).toMatchObject({ attempts: 4, backoff: { type: 'fixed', delay: 250 }, priority: 3, delay: 60_000, timeoutMs: 1_234 });
    expect(await handle.cancel()).toBe('removed');
  });
});
