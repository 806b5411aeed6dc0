import { describe, expect, it } from 'vitest';
import {
  RemoteTaskError,
  SandboxCrashError,
  taskFailureOf,
  TaskTimeoutError,
  ValidationError,
} from '@taskpool/core';
import { misbehave, nap, QuotaExceededError, square } from './fixtures/mapTasks.ts';
import { rejectionOf } from './helpers/rejectionOf.ts';
import { useTestStack } from './helpers/useTestStack.ts';

// `stack.client` registers no error class.
const stack = useTestStack({ tasksModule: 'test/fixtures/mapTasks.ts', concurrency: 2, killGraceMs: 200 });

describe('a registered error class', () => {
  it('arrives as that class, with its code, fields, methods, remote stack and cause', async () => {
    const registered = stack.createClient({ errors: [QuotaExceededError] });
    const handle = await registered.submit(square, -7);
    const error = await rejectionOf(handle.result({ timeoutMs: 20_000 }), QuotaExceededError);
    expect(Object.getPrototypeOf(error)).toBe(QuotaExceededError.prototype);
    expect(error.name).toBe('QuotaExceededError');
    expect(error.message).toBe('no quota for -7');
    expect(error.code).toBe('E_QUOTA');
    expect(error.retryAfterMs).toBe(250);
    expect(error.limits).toEqual({ perMinute: 10 });
    expect(error.retryAt(1_000)).toBe(1_250);
    expect(error.stack).toContain('QuotaExceededError: no quota for -7');
    expect(error.stack).toMatch(/fixtures\/mapTasks\.ts/);
    expect(error.cause).toBeInstanceOf(Error);
    expect((error.cause as Error).name).toBe('RangeError');
    // Not a RemoteTaskError (its prototype chain is the class's own); its job is one call away.
    expect(error).not.toBeInstanceOf(RemoteTaskError);
    expect(taskFailureOf(error)).toMatchObject({ jobId: handle.id, reason: 'error', attemptsMade: 1, remote: { name: 'QuotaExceededError' } });
  });

  it('can be registered on a client later, and is a RemoteTaskError where it is not registered', async () => {
    const late = stack.createClient();
    late.registerError(QuotaExceededError);
    const handle = await late.submit(square, -1);
    await rejectionOf(handle.result({ timeoutMs: 20_000 }), QuotaExceededError);
    const error = await rejectionOf(stack.client.handle(square, handle.id).result(), RemoteTaskError);
    expect(error).toMatchObject({ code: 'TASK_FAILED', remoteName: 'QuotaExceededError', remoteCode: 'E_QUOTA', fields: { retryAfterMs: 250, limits: { perMinute: 10 } } });
  });
});

describe('failure reasons have their own classes', () => {
  it('a handler error: RemoteTaskError (TASK_FAILED)', async () => {
    const error = await rejectionOf((await stack.client.submit(misbehave, { how: 'throw' })).result({ timeoutMs: 20_000 }), RemoteTaskError);
    expect(error).toMatchObject({ code: 'TASK_FAILED', remoteName: 'TypeError', reason: 'error' });
  });

  it('a crashed sandbox: SandboxCrashError (SANDBOX_CRASHED) with the exit code', async () => {
    const error = await rejectionOf((await stack.client.submit(misbehave, { how: 'exit' })).result({ timeoutMs: 20_000 }), SandboxCrashError);
    expect(error).toMatchObject({ code: 'SANDBOX_CRASHED', reason: 'exit', exitCode: 3, signal: null });
    expect(error).toBeInstanceOf(RemoteTaskError);
  });

  it('an invalid output: ValidationError (INVALID_OUTPUT) with the issues', async () => {
    const handle = await stack.client.submit(misbehave, { how: 'badOutput' });
    const error = await rejectionOf(handle.result({ timeoutMs: 20_000 }), ValidationError);
    expect(error.code).toBe('INVALID_OUTPUT');
    expect(error.task).toBe('map.misbehave');
    expect(error.issues).toEqual([expect.objectContaining({ path: ['ok'] })]);
    expect(taskFailureOf(error)).toMatchObject({ jobId: handle.id, reason: 'invalid' });
  });

  it('a timeout given per submit: TaskTimeoutError (TASK_TIMEOUT)', async () => {
    const handle = await stack.client.submit(nap, { id: 'too-long', ms: 20_000 }, { timeoutMs: 300 });
    const started = Date.now();
    const error = await rejectionOf(handle.result({ timeoutMs: 20_000 }), TaskTimeoutError);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(error).toMatchObject({ code: 'TASK_TIMEOUT', reason: 'timeout' });
    expect(error).toBeInstanceOf(RemoteTaskError);
  });
});
