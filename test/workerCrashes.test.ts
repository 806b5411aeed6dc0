import { describe, expect, it } from 'vitest';
import type { AnyTask } from '@taskpool/core';
import { aborts, exits, ok, segfault, timerThrow } from './fixtures/crashTasks.ts';
import { failedView } from './helpers/settle.ts';
import { useTestStack } from './helpers/useTestStack.ts';

const stack = useTestStack({ tasksModule: 'test/fixtures/crashTasks.ts', concurrency: 2 });

async function servesHundred(): Promise<void> {
  const handles = await Promise.all(Array.from({ length: 100 }, () => stack.client.submit(ok, {})));
  const results = await Promise.all(handles.map((h) => h.result({ timeoutMs: 30_000 })));
  expect(results).toHaveLength(100);
  for (const { pid } of results) expect(stack.worker.sandboxPids).toContain(pid);
}

const cases: [string, AnyTask, string, RegExp][] = [
  ['process.exit(3)', exits, 'exit', /exited with code 3/],
  ['a throw from a timer', timerThrow, 'exit', /uncaught TypeError: thrown from a timer/],
  ['process.abort()', aborts, 'signal', /killed by SIGABRT/],
  ['SIGSEGV', segfault, 'signal', /killed by SIGSEGV/],
];

describe('a crash fails only its own attempt', () => {
  it.each(cases)('%s: classified, attempts counted, the pool keeps serving', async (_what, task, reason, message) => {
    const pidsBefore = stack.worker.sandboxPids;
    const handle = await stack.client.submit(task, {});
    const view = await failedView(handle);
    expect(view.attempts).toBe(2);
    expect(view.error).toMatchObject({ reason, code: 'SANDBOX_CRASHED' });
    expect(view.error?.message).toMatch(message);
    expect(view.error?.fields).toMatchObject({ pid: expect.any(Number) });
    expect(pidsBefore).not.toEqual(stack.worker.sandboxPids);
    await servesHundred();
  });
});
