import { describe, expect, it } from 'vitest';
import { classifyExit } from './classifyExit.ts';

describe('classifyExit', () => {
  it('calls a V8 heap exhaustion oom', () => {
    const out = classifyExit({ pid: 7, code: 134, signal: null, stderrTail: 'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory' });
    expect(out).toMatchObject({ reason: 'oom', code: 'SANDBOX_CRASHED', fields: { pid: 7, exitCode: 134 } });
  });

  it('calls a kill by signal signal', () => {
    expect(classifyExit({ pid: 7, code: null, signal: 'SIGSEGV', stderrTail: '' })).toMatchObject({
      reason: 'signal',
      message: 'Sandbox process 7 was killed by SIGSEGV while running the task',
    });
  });

  it('calls a SIGKILL the supervisor did not send killed (KILLED_EXTERNALLY), and one it sent signal', () => {
    const outside = classifyExit({ pid: 7, code: null, signal: 'SIGKILL', stderrTail: '' });
    expect(outside).toMatchObject({ reason: 'killed', code: 'KILLED_EXTERNALLY', fields: { pid: 7, signal: 'SIGKILL' } });
    expect(outside.message).toMatch(/killed from outside the worker .*OOM killer or an operator.*may have been interrupted/);
    expect(classifyExit({ pid: 7, code: null, signal: 'SIGKILL', stderrTail: '', signalSent: 'SIGKILL' })).toMatchObject({ reason: 'signal', code: 'SANDBOX_CRASHED' });
  });

  it('calls process.exit exit, and keeps an uncaught error as the cause', () => {
    expect(classifyExit({ pid: 7, code: 3, signal: null, stderrTail: '' })).toMatchObject({ reason: 'exit', fields: { exitCode: 3 } });
    const fatal = { name: 'TypeError', message: 'x is undefined', stack: 'TypeError: x is undefined\n    at timer (tasks.ts:1:1)' };
    const out = classifyExit({ pid: 7, code: 70, signal: null, stderrTail: '', fatal });
    expect(out).toMatchObject({ reason: 'exit', cause: fatal, stack: fatal.stack });
    expect(out.message).toContain('uncaught TypeError: x is undefined');
  });
});
