import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { createClient } from '@taskpool/core';
import { startTestWorker } from '@taskpool/core/testing';
import { slow, spin } from './fixtures/crashTasks.ts';
import { failedView } from './helpers/settle.ts';
import { eventually, isAlive } from './helpers/spawnService.ts';
import { redisUrl, testPrefix } from './helpers/testRedis.ts';

const prefix = testPrefix(import.meta.url);
const client = createClient({ redisUrl: redisUrl(), prefix });
const tsx = createRequire(import.meta.url).resolve('tsx');

afterAll(async () => {
  await client.close();
});

describe('cancel of a running task from another client process', () => {
  it('reaches the worker running it and kills exactly that sandbox; the task ends cancelled, not retried', async () => {
    await using worker = await startTestWorker({ redisUrl: redisUrl(), prefix, tasksModule: 'test/fixtures/crashTasks.ts', concurrency: 2, killGraceMs: 300 });
    const other = await client.submit(slow, { ms: 4_000 });
    const handle = await client.submit(spin, {}, { attempts: 3 });
    await eventually(async () => (await handle.status())?.state === 'active' && (await other.status())?.state === 'active', 'both tasks running');
    const pidsBefore = worker.sandboxPids;

    const { stdout } = await promisify(execFile)(process.execPath, ['--import', tsx, 'test/helpers/cancelFromAnotherProcess.ts', redisUrl(), prefix, handle.id]);
    const reply = JSON.parse(stdout.trim()) as { outcome: string; pid: number };
    expect(reply.pid).not.toBe(process.pid);
    expect(reply.outcome).not.toBe('removed');

    const view = await failedView(handle);
    expect(view.error).toMatchObject({ reason: 'cancelled', code: 'CANCELLED' });
    expect(view.attempts).toBe(1);
    const { pid: survivor } = await other.result({ timeoutMs: 20_000 });
    const killed = pidsBefore.find((pid) => pid !== survivor)!;
    expect(isAlive(killed)).toBe(false);
    expect(isAlive(survivor)).toBe(true);
  });
});
