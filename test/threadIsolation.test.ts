import { describe, expect, it } from 'vitest';
import { exits, hog, spin, whereAmI } from './fixtures/threadTasks.ts';
import { failedView } from './helpers/settle.ts';
import { useTestStack } from './helpers/useTestStack.ts';

const stack = useTestStack({ tasksModule: 'test/fixtures/threadTasks.ts', concurrency: 2, maxMemoryMb: 64, killGraceMs: 200 });

const runWhere = async () => (await stack.client.submit(whereAmI, {})).result({ timeoutMs: 20_000 });

describe('thread isolation', () => {
  it('runs tasks in worker threads of the worker process', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, runWhere));
    expect(new Set(results.map((r) => r.pid))).toEqual(new Set([process.pid]));
    expect(results.every((r) => r.threadId > 0)).toBe(true);
    expect(new Set(results.map((r) => r.threadId)).size).toBe(2);
  });

  it('terminates a thread stuck in a loop at its timeout; the pool keeps serving', async () => {
    const view = await failedView(await stack.client.submit(spin, {}));
    expect(view.error, JSON.stringify(view.error)).toMatchObject({ reason: 'timeout' });
    expect((await runWhere()).pid).toBe(process.pid);
  });

  it('fails only the attempt when a handler calls process.exit, and when it runs out of heap', async () => {
    expect((await failedView(await stack.client.submit(exits, {}))).error).toMatchObject({ reason: 'exit', fields: { exitCode: 3 } });
    expect((await failedView(await stack.client.submit(hog, {}))).error?.reason).toBe('oom');
    const after = await Promise.all(Array.from({ length: 10 }, runWhere));
    expect(after).toHaveLength(10);
    expect(stack.worker.sandboxesStarted).toBeGreaterThanOrEqual(4);
  });
});
