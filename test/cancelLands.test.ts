import { CancelledError, createAdmin, type TaskHandle } from '@taskpool/core';
import { CANCEL_FIELD, cancelChannel, flagCancel } from '@taskpool/core/internal';
import { describe, expect, it } from 'vitest';
import { CANCEL_RECHECK_MS, cancelSubscriberName } from '../packages/core/src/worker/cancelListener.ts';
import { nap } from './fixtures/mapTasks.ts';
import { jobsRun, quick } from './fixtures/raceTasks.ts';
import { rejectionOf } from './helpers/rejectionOf.ts';
import { eventually } from './helpers/spawnService.ts';
import { connectRedis, redisUrl, type TestRedisClient } from './helpers/testRedis.ts';
import { useTestStack } from './helpers/useTestStack.ts';

/**
 * The bound stated for a cancel whose message is lost: the worker rereads the flags of the jobs it holds every
 * CANCEL_RECHECK_MS (1 s); then the handler's signal fires (nap gives up at once) and the job fails.
 */
const STOP_BOUND_MS = 3_000;

const stack = useTestStack({ tasksModule: 'test/fixtures/mapTasks.ts', concurrency: 2, killGraceMs: 500 });

/** True once the handler runs: `nap` reports progress `{ percent: 0 }` first thing. */
const running = async (handle: TaskHandle<unknown>): Promise<boolean> => {
  const view = await handle.status();
  return view?.state === 'active' && typeof view.progress === 'object';
};

/** The id of the worker's cancel subscriber connection in `CLIENT LIST`, if it is connected. */
async function subscriberId(redis: TestRedisClient): Promise<string | undefined> {
  const name = cancelSubscriberName(stack.worker.id);
  const line = ((await redis.client('LIST')) as string).split('\n').find((l) => l.split(' ').includes(`name=${name}`));
  return line?.match(/(?:^| )id=(\d+)/)?.[1];
}

const subscribers = async (redis: TestRedisClient): Promise<number> => {
  const [, count] = (await redis.pubsub('NUMSUB', cancelChannel(stack.prefix))) as [string, number];
  return Number(count);
};

describe('a cancel always lands', () => {
  it(`stops a running task within ${STOP_BOUND_MS} ms, reason cancelled, though the worker's subscriber was killed and the message lost`, async () => {
    expect(CANCEL_RECHECK_MS).toBeLessThan(STOP_BOUND_MS);
    await using redis = await connectRedis(redisUrl());
    const handle = await stack.client.submit(nap, { id: 'killed-subscriber', ms: 60_000 }, { attempts: 3 });
    await eventually(() => running(handle), 'the task is running');
    await eventually(async () => (await subscribers(redis)) === 1, 'the worker is subscribed');

    const id = await subscriberId(redis);
    expect(id).toBeDefined();
    expect(await redis.client('KILL', 'ID', id!)).toBe(1);
    const started = Date.now();
    expect(await handle.cancel()).toBe('signalled');
    // The subscriber reconnects after 200 ms at the earliest: the PUBLISH above reached no one.
    expect(await subscribers(redis)).toBe(0);

    const error = await rejectionOf(handle.result({ timeoutMs: 15_000 }), CancelledError);
    expect(Date.now() - started).toBeLessThan(STOP_BOUND_MS);
    expect(error.reason).toBe('cancelled');
    expect(error.attemptsMade).toBe(1);
    expect((await handle.status())?.error?.reason).toBe('cancelled');

    // The subscriber came back, under its name, and a cancel message works again.
    await eventually(async () => (await subscriberId(redis)) !== undefined && (await subscribers(redis)) === 1, 'the subscriber is back');
    expect(await subscriberId(redis)).not.toBe(id);
    const next = await stack.client.submit(nap, { id: 'after-reconnect', ms: 60_000 });
    await eventually(() => running(next), 'the next task is running');
    expect(await next.cancel()).toBe('signalled');
    await expect(next.result({ timeoutMs: 15_000 })).rejects.toBeInstanceOf(CancelledError);
  });

  it(`stops a running task within ${STOP_BOUND_MS} ms when only its flag is set (no message at all)`, async () => {
    await using redis = await connectRedis(redisUrl());
    const handle = await stack.client.submit(nap, { id: 'flag-only', ms: 60_000 });
    await eventually(() => running(handle), 'the task is running');
    const started = Date.now();
    await redis.hset(`${stack.prefix}:default:${handle.id}`, CANCEL_FIELD, '1');
    const error = await rejectionOf(handle.result({ timeoutMs: 15_000 }), CancelledError);
    expect(Date.now() - started).toBeLessThan(STOP_BOUND_MS);
    expect(error.reason).toBe('cancelled');
  });

  it('never runs a job cancelled before it was fetched, when the remove does not take it', async () => {
    await using redis = await connectRedis(redisUrl());
    // Delayed, so the cancel's Lua step (flag, BullMQ's deferred failure, marker) runs before any worker can
    // fetch it, and no remove follows: as when a worker fetches the job between cancelTask's step and its remove.
    const handle = await stack.client.submit(nap, { id: 'flagged-early', ms: 1 }, { delayMs: 300 });
    expect((await handle.status())?.state).toBe('delayed');
    expect(await flagCancel(redis, { prefix: stack.prefix, queue: 'default', jobId: handle.id, markerTtlSeconds: 60 })).toMatchObject({ found: 'queued' });
    const error = await rejectionOf(handle.result({ timeoutMs: 15_000 }), CancelledError);
    expect(error.message).toMatch(/before it started/);
    const view = await handle.status();
    expect(view).toMatchObject({ state: 'failed', attempts: 1 });
    // The handler never ran: nap's first act is to report progress.
    expect(view?.progress).toBe(0);
  });
});

describe('a retried cancelled job', () => {
  it('runs again, on the worker that heard its cancel', async () => {
    await using admin = createAdmin({ redisUrl: redisUrl(), prefix: stack.prefix });
    const handle = await stack.client.submit(nap, { id: 'cancel-then-retry', ms: 60_000 });
    await eventually(() => running(handle), 'the task is running');
    expect(await handle.cancel()).toBe('signalled');
    await expect(handle.result({ timeoutMs: 15_000 })).rejects.toBeInstanceOf(CancelledError);

    expect((await admin.retryJob(handle.id))?.state).toMatch(/^(waiting|active)$/);
    // A new handle (the first one has settled): its handler runs, instead of failing at once as cancelled
    // from the worker's memory of the first cancel.
    const again = stack.client.handle(nap, handle.id);
    await eventually(async () => (await running(again)) || (await again.status())?.state === 'failed', 'the retried job runs or fails');
    expect(await again.status()).toMatchObject({ state: 'active', progress: { percent: 0 } });
    expect(await again.cancel()).toBe('signalled');
    await expect(again.result({ timeoutMs: 15_000 })).rejects.toBeInstanceOf(CancelledError);
  });
});

describe('a cancel racing a completion says the truth', () => {
  // Inline tasks: a run takes well under a millisecond and a cancelled one costs no sandbox restart, so 200
  // submits and cancels take a few seconds and many cancels land right at a completion.
  const inline = useTestStack({ tasksModule: 'test/fixtures/raceTasks.ts' });

  it('200 times: `completed` keeps a readable result; a task that returned a value, or ran at all, was never `removed`', async () => {
    const seen = new Map<string, number>();
    for (let i = 0; i < 200; i++) {
      const handle = await inline.client.submit(quick, {});
      // A deliberate spread of 0-7 ms (not a wait for something): the cancel lands before, during or after
      // the run, so that some land right at the completion.
      const jitter = i % 8;
      if (jitter > 0) await new Promise((resolve) => setTimeout(resolve, jitter));
      const said = await handle.cancel();
      const outcome = await handle.settled({ timeoutMs: 15_000 });
      seen.set(said, (seen.get(said) ?? 0) + 1);
      if (said === 'completed') {
        expect(outcome.ok, `iteration ${i}: cancel said completed`).toBe(true);
        await expect(handle.result()).resolves.toEqual({ jobId: handle.id });
        expect((await handle.status())?.state).toBe('completed');
      }
      if (said === 'removed') {
        expect(!outcome.ok && outcome.error, `iteration ${i}: cancel said removed`).toBeInstanceOf(CancelledError);
        expect(jobsRun().has(handle.id), `iteration ${i}: cancel said removed, but the handler ran`).toBe(false);
      }
      if (outcome.ok) {
        expect(said, `iteration ${i}: the task returned a value`).not.toBe('removed');
        expect(said).not.toBe('failed');
      } else {
        expect(outcome.error, `iteration ${i}: cancel said ${said}`).toBeInstanceOf(CancelledError);
      }
    }
    // Both sides of the race were reached.
    expect(seen.get('completed') ?? 0, JSON.stringify([...seen])).toBeGreaterThan(0);
    expect((seen.get('removed') ?? 0) + (seen.get('signalled') ?? 0), JSON.stringify([...seen])).toBeGreaterThan(0);
  });
});
