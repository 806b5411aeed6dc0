import { describe, expect, it } from 'vitest';
import { RemoteTaskError } from '@taskpool/core';
import { failing } from './fixtures/tasks.ts';
import { rejectionOf } from './helpers/rejectionOf.ts';
import { useTestStack } from './helpers/useTestStack.ts';

const stack = useTestStack({ tasksModule: 'test/fixtures/tasks.ts' });

describe('a throwing handler', () => {
  it('rejects result() with a typed error carrying the remote name, message, stack, code, cause and fields, after every attempt', async () => {
    const handle = await stack.client.submit(failing, { user: 'ada' });
    const remote = await rejectionOf(handle.result({ timeoutMs: 30_000 }), RemoteTaskError);
    expect(remote.code).toBe('TASK_FAILED');
    expect(remote.remoteName).toBe('QuotaError');
    expect(remote.message).toBe('quota exceeded for ada');
    expect(remote.remoteCode).toBe('E_QUOTA');
    expect(remote.fields).toEqual({ retryAfterMs: 1234 });
    expect(remote.reason).toBe('error');
    expect(remote.stack).toContain('QuotaError: quota exceeded for ada');
    expect(remote.stack).toMatch(/fixtures\/tasks\.ts/);
    expect(remote.cause).toBeInstanceOf(Error);
    expect((remote.cause as Error).name).toBe('RangeError');
    expect((remote.cause as Error).message).toBe('limit 10 reached');
    expect(remote.attemptsMade).toBe(3);

    const view = await handle.status();
    expect(view?.state).toBe('failed');
    expect(view?.attempts).toBe(3);
    expect(view?.error?.name).toBe('QuotaError');
  });
});
