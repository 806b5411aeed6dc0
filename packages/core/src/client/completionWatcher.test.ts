import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CompletionWatcher, type Settled } from './completionWatcher.ts';

/** A Redis stand-in for the watcher's pipelined reads: jobs are pending unless `completed` names them. */
function fakeRedis() {
  const completed = new Map<string, unknown>();
  const pipelines: string[][] = [];
  const redis = {
    pipeline() {
      const commands: [string, string][] = [];
      const chain = {
        zscore: (key: string, id: string) => (commands.push([`zscore ${key}`, id]), chain),
        hmget: (key: string) => (commands.push(['hmget', key]), chain),
        exists: (key: string) => (commands.push(['exists', key]), chain),
        exec: async () => {
          pipelines.push(commands.map(([c]) => c));
          return commands.map(([command, arg]) => {
            if (command.startsWith('zscore') && command.endsWith(':completed')) return [null, completed.has(arg) ? '1' : null];
            if (command.startsWith('zscore')) return [null, null];
            if (command === 'hmget') {
              const id = arg.split(':').at(-1)!;
              const value = completed.get(id);
              return [null, [value === undefined ? null : JSON.stringify(value), '1', null, null, null, null, '123']];
            }
            return [null, 0];
          });
        },
      };
      return chain;
    },
  };
  return { redis: redis as unknown as Redis, completed, pipelines };
}

const queue = (name: string) => ({ toKey: (type: string) => `p:${name}:${type}` }) as unknown as Queue;

describe('CompletionWatcher sweeps', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('reads at most sweepBatch jobs per sweep, in one pipeline, round robin', async () => {
    const { redis, completed, pipelines } = fakeRedis();
    const watcher = new CompletionWatcher({ redis, queue, connect: () => redis, sweepMs: 1_000, sweepBatch: 2_000 });
    const never = new Promise<never>(() => undefined);
    const settled = new Map<string, Settled>();
    for (let i = 0; i < 5_000; i++) {
      // `adding`: no first read and no event reader, so only sweeps read these jobs.
      // The waits still pending at close() reject (ClientClosedError): ignored here.
      void watcher.wait('q', `job-${i}`, { adding: never }).then((s) => settled.set(`job-${i}`, s), () => undefined);
    }
    await vi.advanceTimersByTimeAsync(1_000);
    expect(pipelines).toHaveLength(1);
    expect(pipelines[0]).toHaveLength(2_000 * 4);
    // job-4500 has not been read yet; it completes, and is found by the third sweep.
    completed.set('job-4500', { ok: 1 });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(pipelines).toHaveLength(2);
    expect(settled.size).toBe(0);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(pipelines).toHaveLength(3);
    expect(settled.get('job-4500')).toEqual({ state: 'completed', value: { ok: 1 }, attemptsMade: 1 });
    expect(pipelines.map((p) => p.length / 4)).toEqual([2_000, 2_000, 2_000]);
    const pending = watcher.wait('q', 'job-0', { adding: never });
    watcher.close();
    await expect(pending).rejects.toMatchObject({ name: 'ClientClosedError', code: 'CLIENT_CLOSED' });
  });

  it('does not call a job missing while its add is under way, and does once it is added', async () => {
    const { redis, pipelines } = fakeRedis();
    const noHash = {
      pipeline: () => {
        const p = (redis as unknown as { pipeline(): { exec(): Promise<[null, unknown][]> } }).pipeline() as unknown as Record<string, unknown>;
        const exec = p.exec as () => Promise<[null, unknown][]>;
        p.exec = async () => (await exec()).map(([e, v]) => [e, Array.isArray(v) ? v.map(() => null) : v]);
        return p;
      },
    } as unknown as Redis;
    const watcher = new CompletionWatcher({ redis: noHash, queue, connect: () => noHash, sweepMs: 100 });
    let added!: () => void;
    const adding = new Promise<void>((resolve) => (added = resolve));
    let outcome: Settled | undefined;
    void watcher.wait('q', 'late', { adding }).then((s) => (outcome = s));
    await vi.advanceTimersByTimeAsync(300);
    expect(pipelines.length).toBeGreaterThanOrEqual(2);
    expect(outcome).toBeUndefined();
    added();
    await vi.advanceTimersByTimeAsync(100);
    expect(outcome).toEqual({ state: 'missing' });
    watcher.close();
  });
});

/** A stand-in for an event reader's connection: each pipelined XREAD waits for {@link deliver} or {@link fail}. */
function fakeEventConnection() {
  const pending: { resolve: (replies: unknown) => void; reject: (error: Error) => void }[] = [];
  let seq = 1;
  const connection = {
    xrevrange: async () => [['1-0', []]],
    pipeline() {
      const chain = {
        xread: () => chain,
        xrange: () => chain,
        exec: () => new Promise((resolve, reject) => pending.push({ resolve, reject })),
      };
      return chain;
    },
    on: () => connection,
    disconnect: () => undefined,
  };
  const next = async () => {
    await vi.waitFor(() => expect(pending.length).toBeGreaterThan(0));
    return pending.shift()!;
  };
  return {
    connection: connection as unknown as Redis,
    /** Answers the XREAD under way with one `completed` event per job id. */
    async deliver(...jobIds: string[]) {
      const entries = jobIds.map((jobId) => [`${++seq}-0`, ['event', 'completed', 'jobId', jobId, 'returnvalue', '{"ok":1}']]);
      (await next()).resolve([[null, [['p:q:events', entries]]], [null, [['1-0', []]]]]);
      await vi.advanceTimersByTimeAsync(0);
    },
    /** Fails the XREAD under way, as a dropped connection does. */
    async fail() {
      (await next()).reject(new Error('Connection is closed.'));
      await vi.advanceTimersByTimeAsync(200);
    },
  };
}

describe('CompletionWatcher watches', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('waits for a job watched since before its add without reading it, and reads it when its events may be lost', async () => {
    const { redis, completed, pipelines } = fakeRedis();
    const events = fakeEventConnection();
    const watcher = new CompletionWatcher({ redis, queue, connect: () => events.connection });
    // Not read yet: nothing is watched, so a wait reads the job as before.
    expect(watcher.watch('q', 'early')).toBe(false);
    await watcher.listen('q');

    // Watched, then awaited: no read; its completed event settles it.
    expect(watcher.watch('q', 'a')).toBe(true);
    const a = watcher.wait('q', 'a');
    await vi.advanceTimersByTimeAsync(10);
    expect(pipelines).toHaveLength(0);
    await events.deliver('a');
    await expect(a).resolves.toEqual({ state: 'completed', value: { ok: 1 }, attemptsMade: -1 });

    // Finished before anyone waited: the watch is forgotten and the wait reads the job.
    watcher.watch('q', 'b');
    await events.deliver('b');
    completed.set('b', { ok: 2 });
    const b = watcher.wait('q', 'b');
    await vi.advanceTimersByTimeAsync(10);
    await expect(b).resolves.toEqual({ state: 'completed', value: { ok: 2 }, attemptsMade: 1 });
    expect(pipelines).toHaveLength(1);

    // Events may have been missed (a read failed): the watch is forgotten and the wait reads the job.
    watcher.watch('q', 'c');
    await events.fail();
    completed.set('c', { ok: 3 });
    const c = watcher.wait('q', 'c');
    await vi.advanceTimersByTimeAsync(10);
    await expect(c).resolves.toEqual({ state: 'completed', value: { ok: 3 }, attemptsMade: 1 });
    expect(pipelines).toHaveLength(2);
    watcher.close();
  });
});
