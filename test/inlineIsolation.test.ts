import { describe, expect, it } from 'vitest';
import { wait } from './fixtures/inlineTasks.ts';
import { failedView } from './helpers/settle.ts';
import { useTestStack } from './helpers/useTestStack.ts';

const stack = useTestStack({ tasksModule: 'test/fixtures/inlineTasks.ts', inlineConcurrency: 200 });

describe('inline isolation', () => {
  it('runs hundreds of I/O-bound jobs at once on the worker itself, without sandboxes', async () => {
    const handles = await Promise.all(Array.from({ length: 200 }, () => stack.client.submit(wait, { ms: 200 })));
    const started = Date.now();
    const results = await Promise.all(handles.map((h) => h.result({ timeoutMs: 30_000 })));
    // 200 × 200 ms one at a time would be 40 s; at once they take a few hundred ms.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(new Set(results.map((r) => r.pid))).toEqual(new Set([process.pid]));
    expect(stack.worker.queues).toEqual(['io']);
  });

  it('times out cooperatively: the signal fires and the attempt fails as timeout', async () => {
    const view = await failedView(await stack.client.submit(wait, { ms: 10_000 }));
    expect(view.error).toMatchObject({ reason: 'timeout', code: 'TASK_TIMEOUT' });
    expect(view.error?.message).toMatch(/inline/);
  });
});
