import { describe, expect, it } from 'vitest';
import { collectTasks, SandboxCrashError, taskFailureOf } from '@taskpool/core';
import * as crashTasks from './fixtures/crashTasks.ts';
import { ok, spin, spinLimited } from './fixtures/crashTasks.ts';
import { useProducerStack } from './helpers/producerStack.ts';
import { failedView } from './helpers/settle.ts';
import { eventually } from './helpers/spawnService.ts';
import { useTestStack } from './helpers/useTestStack.ts';

const stack = useTestStack({ tasksModule: 'test/fixtures/crashTasks.ts', concurrency: 1 });
const producer = useProducerStack({ prefix: stack.prefix, tasks: collectTasks(crashTasks) });

/** The pid of the sandbox running the job, from the worker (concurrency 1: its one sandbox, once the job is active). */
async function sandboxRunning(handle: { status(): Promise<{ state: string } | undefined> }): Promise<number> {
  await eventually(async () => (await handle.status())?.state === 'active', 'the task running');
  const [pid] = stack.worker.sandboxPids;
  return pid!;
}

describe('a SIGKILL the worker did not send', () => {
  it('fails the attempt as killed (KILLED_EXTERNALLY), apart from the handler’s own crashes, in the history and on the dashboard', async () => {
    const handle = await stack.client.submit(spin, { mark: 'external' }, { attempts: 1 });
    const pid = await sandboxRunning(handle);
    process.kill(pid, 'SIGKILL');
    await expect(handle.result({ timeoutMs: 20_000 })).rejects.toBeInstanceOf(SandboxCrashError);
    const view = await failedView(handle);
    expect(view.error).toMatchObject({ reason: 'killed', code: 'KILLED_EXTERNALLY', fields: { pid, signal: 'SIGKILL' } });
    expect(view.error?.message).toMatch(/killed from outside the worker \(SIGKILL: the kernel's OOM killer or an operator\).*may have been interrupted/);
    const caught = await handle.result({ timeoutMs: 1_000 }).catch((error: unknown) => error);
    expect(taskFailureOf(caught)).toMatchObject({ reason: 'killed', remote: { code: 'KILLED_EXTERNALLY' } });

    const overview = (await producer.request({ method: 'GET', url: '/dashboard/fragments/overview' })).body;
    expect(overview).toContain('class="badge reason-killed"');
    expect(overview).toMatch(/Killed from outside with SIGKILL \(the kernel’s OOM killer or an operator\)/);
    const jobs = (await producer.request({ method: 'GET', url: '/dashboard/fragments/jobs?state=failed' })).body;
    expect(jobs).toContain(`data-job-id="${handle.id}"`);
    expect(jobs).toContain('reason-killed');
    expect(jobs).toContain('KILLED_EXTERNALLY');

    // The pool replaced the process and serves on.
    await expect((await stack.client.submit(ok, {})).result({ timeoutMs: 20_000 })).resolves.toMatchObject({ pid: expect.any(Number) });
  });

  it('a SIGKILL the supervisor sent itself (a timeout) stays a timeout, not killed', async () => {
    const view = await failedView(await stack.client.submit(spinLimited, {}, { attempts: 1 }));
    expect(view.error).toMatchObject({ reason: 'timeout', code: 'TASK_TIMEOUT' });
    expect(view.error?.cause).toMatchObject({ reason: 'signal', fields: { signal: 'SIGKILL' } });
  });
});
