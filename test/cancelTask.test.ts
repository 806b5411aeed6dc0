import { describe, expect, it } from 'vitest';
import { CancelledError, RemoteTaskError, taskFailureOf, type TaskHandle } from '@taskpool/core';
import { CANCEL_FIELD } from '@taskpool/core/internal';
import { nap } from './fixtures/mapTasks.ts';
import { rejectionOf } from './helpers/rejectionOf.ts';
import { eventually } from './helpers/spawnService.ts';
import { connectRedis, redisUrl } from './helpers/testRedis.ts';
import { useTestStack } from './helpers/useTestStack.ts';

// One sandbox: a long nap keeps it busy, so the next submit stays queued.
const stack = useTestStack({ tasksModule: 'test/fixtures/mapTasks.ts', concurrency: 1, killGraceMs: 500 });

/** True once the handler runs: `nap` reports progress `{ percent: 0 }` first thing (BullMQ's `active` comes earlier, before a sandbox is free). */
const running = async (handle: TaskHandle<unknown>): Promise<boolean> => {
  const view = await handle.status();
  return view?.state === 'active' && typeof view.progress === 'object';
};

describe('cancel', () => {
  it('removes a queued task; result() rejects with CancelledError here and in another client', async () => {
    const blocker = await stack.client.submit(nap, { id: 'blocker', ms: 20_000 });
    await eventually(() => running(blocker), 'the blocker is running');
    const queued = await stack.client.submit(nap, { id: 'queued', ms: 10 });
    expect((await queued.status())?.state).toBe('waiting');
    // A second client: what it sees of a job someone else cancelled.
    const elsewhere = stack.createClient().handle(nap, queued.id).settled({ timeoutMs: 10_000 });

    expect(await queued.cancel()).toBe('removed');
    const error = await rejectionOf(queued.result({ timeoutMs: 10_000 }), CancelledError);
    expect(error.code).toBe('CANCELLED');
    expect(error.reason).toBe('cancelled');
    expect(error).toBeInstanceOf(RemoteTaskError);
    expect(taskFailureOf(error)).toMatchObject({ jobId: queued.id, reason: 'cancelled', attemptsMade: 0 });
    const seenElsewhere = await elsewhere;
    expect(!seenElsewhere.ok && seenElsewhere.error).toBeInstanceOf(CancelledError);
    expect(await queued.status()).toBeUndefined();

    expect(await blocker.cancel()).toBe('signalled');
    await expect(blocker.result({ timeoutMs: 10_000 })).rejects.toBeInstanceOf(CancelledError);
  });

  it('removes a delayed task', async () => {
    const delayed = await stack.client.submit(nap, { id: 'delayed', ms: 10 }, { delayMs: 60_000 });
    expect((await delayed.status())?.state).toBe('delayed');
    expect(await delayed.cancel()).toBe('removed');
    await expect(delayed.result({ timeoutMs: 10_000 })).rejects.toBeInstanceOf(CancelledError);
  });

  it('aborts a running task: it fails with reason cancelled, once, though attempts remain', async () => {
    const handle = await stack.client.submit(nap, { id: 'running', ms: 30_000 }, { attempts: 3 });
    await eventually(() => running(handle), 'the task is running');
    const started = Date.now();
    expect(await handle.cancel()).toBe('signalled');
    const error = await rejectionOf(handle.result({ timeoutMs: 15_000 }), CancelledError);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(error.attemptsMade).toBe(1);
    const view = await handle.status();
    expect(view).toMatchObject({ state: 'failed', attempts: 1 });
    expect(view?.error?.reason).toBe('cancelled');
    await using redis = await connectRedis(redisUrl());
    expect(await redis.hget(`${stack.prefix}:default:${handle.id}`, CANCEL_FIELD)).toBe('1');
  });

  it('leaves a finished task alone, and says so of a missing one', async () => {
    const done = await stack.client.submit(nap, { id: 'done', ms: 1 });
    const value = await done.result({ timeoutMs: 10_000 });
    expect(await done.cancel()).toBe('completed');
    await expect(done.result()).resolves.toEqual(value);
    expect((await done.status())?.state).toBe('completed');
    expect(await stack.client.handle(nap, '00000000-0000-4000-8000-00000000dead').cancel()).toBe('missing');
  });
});
