import { describe, expect, it } from 'vitest';
import { JobNotFoundError, type Outcome, type ProgressValue } from '@taskpool/core';
import { misbehave, nap } from './fixtures/mapTasks.ts';
import { eventually } from './helpers/spawnService.ts';
import { useTestStack } from './helpers/useTestStack.ts';

// Four sandboxes, so four naps of different lengths run at once and finish in the order of their lengths.
const stack = useTestStack({ tasksModule: 'test/fixtures/mapTasks.ts', concurrency: 4 });

const napFor = (id: string, ms: number) => stack.client.submit(nap, { id, ms });

describe('asCompleted', () => {
  it('yields handles in completion order, whatever the order given', async () => {
    const handles = await Promise.all([napFor('c', 900), napFor('a', 100), napFor('d', 1_300), napFor('b', 500)]);
    const order: string[] = [];
    for await (const handle of stack.client.asCompleted(handles)) {
      order.push((await handle.result()).id);
      expect(handles).toContain(handle);
    }
    expect(order).toEqual(['a', 'b', 'c', 'd']);
  });

  it('yields failed tasks too, and handles that had finished before', async () => {
    const failed = await stack.client.submit(misbehave, { how: 'throw' });
    await expect(failed.result({ timeoutMs: 10_000 })).rejects.toThrow('misbehaving on purpose');
    const later = await napFor('later', 300);
    const yielded = [];
    for await (const handle of stack.client.asCompleted([later, failed])) yielded.push(handle);
    expect(yielded).toEqual([failed, later]);
  });
});

describe('wait', () => {
  it("returns when all have finished ('all', the default)", async () => {
    const handles = await Promise.all([napFor('w1', 100), napFor('w2', 400)]);
    const { done, pending } = await stack.client.wait(handles);
    expect(done).toEqual(handles);
    expect(pending).toEqual([]);
  });

  it("returns at the first to finish with 'first-completed'", async () => {
    const [slow, fast] = await Promise.all([napFor('slow', 3_000), napFor('fast', 100)]);
    const { done, pending } = await stack.client.wait([slow!, fast!], { returnWhen: 'first-completed' });
    expect(done).toEqual([fast]);
    expect(pending).toEqual([slow]);
    await slow!.cancel();
  });

  it("returns at the first failure with 'first-failed', or when all are done", async () => {
    const slow = await napFor('slow-f', 3_000);
    const fine = await napFor('fine', 50);
    const bad = await stack.client.submit(misbehave, { how: 'throw' });
    const first = await stack.client.wait([slow, fine, bad], { returnWhen: 'first-failed' });
    expect(first.done).toContain(bad);
    expect(first.pending).toContain(slow);
    await slow.cancel();

    const ok = await Promise.all([napFor('ok1', 50), napFor('ok2', 150)]);
    const all = await stack.client.wait(ok, { returnWhen: 'first-failed' });
    expect(all).toEqual({ done: ok, pending: [] });
  });

  it('returns what has finished when the timeout is over, without throwing', async () => {
    const [fast, slow] = await Promise.all([napFor('t-fast', 50), napFor('t-slow', 5_000)]);
    const started = Date.now();
    const { done, pending } = await stack.client.wait([fast!, slow!], { timeoutMs: 800 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(790);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(done).toEqual([fast]);
    expect(pending).toEqual([slow]);
    await slow!.cancel();
  });

  it('returns at once for no handles', async () => {
    expect(await stack.client.wait([], { returnWhen: 'first-completed' })).toEqual({ done: [], pending: [] });
  });
});

describe('onDone', () => {
  it('runs each callback exactly once, whether added before or after completion', async () => {
    const handle = await napFor('done-once', 300);
    const before: Outcome<{ id: string; pid: number }>[] = [];
    handle.onDone((outcome) => before.push(outcome));
    const value = await handle.result();
    await eventually(() => before.length === 1, 'the callback added before completion ran');
    const after: Outcome<{ id: string; pid: number }>[] = [];
    handle.onDone((outcome) => after.push(outcome)).onDone((outcome) => after.push(outcome));
    await eventually(() => after.length === 2, 'both callbacks added after completion ran');
    // Nothing runs twice, however long we look.
    await stack.client.wait([await napFor('settle-time', 200)]);
    expect(before).toEqual([{ ok: true, value }]);
    expect(after).toEqual([
      { ok: true, value },
      { ok: true, value },
    ]);
  });

  it('gets the error of a failed task, and of a job that does not exist', async () => {
    const bad = await stack.client.submit(misbehave, { how: 'throw' });
    const outcome = await new Promise<Outcome<unknown>>((resolve) => bad.onDone(resolve));
    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && outcome.error.message).toBe('misbehaving on purpose');

    const ghost = stack.client.handle(nap, '00000000-0000-4000-8000-000000000000');
    const missing = await new Promise<Outcome<unknown>>((resolve) => ghost.onDone(resolve));
    expect(!missing.ok && missing.error).toBeInstanceOf(JobNotFoundError);
  });
});

describe('progress', () => {
  it('delivers the values a handler reports to on("progress") and onProgress listeners', async () => {
    const handle = await napFor('progress', 600);
    const viaOn: ProgressValue[] = [];
    const viaOnProgress: ProgressValue[] = [];
    handle.on('progress', (value) => viaOn.push(value));
    const unsubscribe = handle.onProgress((value) => viaOnProgress.push(value));
    await handle.result();
    await eventually(() => viaOn.length >= 1, 'a progress event');
    // The first value may be reported before the listener was connected; the last always comes after.
    expect(viaOn.at(-1)).toEqual({ percent: 100, id: 'progress' });
    expect(viaOnProgress).toEqual(viaOn);
    unsubscribe();
    expect((await handle.status())?.progress).toEqual({ percent: 100, id: 'progress' });
  });
});
