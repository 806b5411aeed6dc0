import { describe, expect, it } from 'vitest';
import { CancelledError, RemoteTaskError, SandboxCrashError, TaskTimeoutError, ValidationError } from '../errors.ts';
import type { SerializedError } from '../serializeError.ts';
import { ErrorRegistry, taskFailureOf } from './errorRegistry.ts';

class PaymentError extends Error {
  override name = 'PaymentError';
  get declined(): boolean {
    return (this as unknown as { status?: string }).status === 'declined';
  }
}

const remote = (overrides: Partial<SerializedError>): SerializedError => ({ name: 'Error', message: 'boom', stack: 'Error: boom\n    at handler (tasks.ts:1:1)', ...overrides });

describe('ErrorRegistry.rebuild', () => {
  const registry = new ErrorRegistry();
  registry.register(PaymentError);

  it.each([
    ['timeout', TaskTimeoutError, 'TASK_TIMEOUT'],
    ['cancelled', CancelledError, 'CANCELLED'],
    ['exit', SandboxCrashError, 'SANDBOX_CRASHED'],
    ['signal', SandboxCrashError, 'SANDBOX_CRASHED'],
    ['oom', SandboxCrashError, 'SANDBOX_CRASHED'],
    ['quarantined', SandboxCrashError, 'SANDBOX_CRASHED'],
    ['stalled', SandboxCrashError, 'SANDBOX_CRASHED'],
    ['error', RemoteTaskError, 'TASK_FAILED'],
  ] as const)('maps reason %s to %o (%s)', (reason, type, code) => {
    const error = registry.rebuild('job-1', remote({ reason }), 2);
    expect(error).toBeInstanceOf(type);
    expect(error).toBeInstanceOf(RemoteTaskError);
    expect((error as RemoteTaskError).code).toBe(code);
    expect(error.stack).toContain('tasks.ts:1:1');
    expect(taskFailureOf(error)).toEqual({ jobId: 'job-1', reason, attemptsMade: 2, remote: remote({ reason }) });
  });

  it('keeps the exit code and signal of a crash', () => {
    const error = registry.rebuild('j', remote({ reason: 'signal', fields: { pid: 9, exitCode: null, signal: 'SIGKILL' } }), 1) as SandboxCrashError;
    expect(error).toMatchObject({ exitCode: null, signal: 'SIGKILL' });
  });

  it('makes an invalid input or output a ValidationError with its issues', () => {
    const issues = [{ path: ['n'], message: 'Expected number', code: 'invalid_type' }];
    const error = registry.rebuild('j', remote({ reason: 'invalid', code: 'INVALID_INPUT', message: 'Invalid input for task t: n', fields: { task: 't', issues } }), 1);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ code: 'INVALID_INPUT', task: 't', issues, message: 'Invalid input for task t: n' });
    // Another invalid (an unknown task) stays a RemoteTaskError.
    expect(registry.rebuild('j', remote({ reason: 'invalid', code: 'UNKNOWN_TASK' }), 1)).toBeInstanceOf(RemoteTaskError);
  });

  it('rebuilds a registered class without its constructor, fields shadowing getters, causes too', () => {
    const cause = remote({ name: 'PaymentError', message: 'inner', fields: { status: 'declined' } });
    const error = registry.rebuild('j', remote({ name: 'PaymentError', code: 'E_PAY', fields: { status: 'declined', amount: 12 }, cause }), 1);
    expect(error).toBeInstanceOf(PaymentError);
    expect(error).not.toBeInstanceOf(RemoteTaskError);
    expect(error).toMatchObject({ name: 'PaymentError', message: 'boom', code: 'E_PAY', status: 'declined', amount: 12 });
    expect((error as PaymentError).declined).toBe(true);
    expect(error.cause).toBeInstanceOf(PaymentError);
    expect(Object.keys(error).sort()).toEqual(['amount', 'code', 'name', 'status']);
  });

  it('registers under another name, and refuses an anonymous class without one', () => {
    const other = new ErrorRegistry();
    other.register(PaymentError, { name: 'LegacyPaymentError' });
    expect(other.rebuild('j', remote({ name: 'LegacyPaymentError' }), 1)).toBeInstanceOf(PaymentError);
    expect(other.rebuild('j', remote({ name: 'PaymentError' }), 1)).toBeInstanceOf(RemoteTaskError);
    expect(() => other.register((() => class extends Error {})())).toThrow(TypeError);
  });
});
