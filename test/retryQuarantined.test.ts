import { createAdmin } from '@taskpool/core';
import { CRASHES_FIELD as CRASH_FIELD, JOB_ERROR_FIELD } from '@taskpool/core/internal';
import { describe, expect, it } from 'vitest';
import { exits } from './fixtures/crashTasks.ts';
import { failedView } from './helpers/settle.ts';
import { eventually } from './helpers/spawnService.ts';
import { connectRedis, redisUrl } from './helpers/testRedis.ts';
import { useTestStack } from './helpers/useTestStack.ts';

// Quarantine after 2 crashes; `exits` calls process.exit(3) on every attempt.
const stack = useTestStack({ tasksModule: 'test/fixtures/crashTasks.ts', concurrency: 1, quarantineAfterCrashes: 2 });

describe('retry of a quarantined job', () => {
  it('clears its crash count and its old error: the retried job gets its whole crash budget again', async () => {
    await using admin = createAdmin({ redisUrl: redisUrl(), prefix: stack.prefix });
    await using redis = await connectRedis(redisUrl());
    const handle = await stack.client.submit(exits, {}, { attempts: 2, backoff: { type: 'fixed', delayMs: 10 } });
    const key = `${stack.prefix}:default:${handle.id}`;
    const first = await failedView(handle);
    expect(first).toMatchObject({ attempts: 2, error: { reason: 'quarantined', fields: { crashes: 2 } } });

    const retried = await admin.retryJob(handle.id);
    expect(retried?.state).toMatch(/^(waiting|active)$/);
    // Nothing of the first run's failure is shown for the new run.
    expect(retried?.error).toBeUndefined();
    expect(await redis.hmget(key, CRASH_FIELD, JOB_ERROR_FIELD)).toEqual([null, null]);

    // Its first crash is counted afresh (1 of 2), so the job is retried, not quarantined.
    await eventually(async () => (await admin.getJob(handle.id))?.state === 'failed', 'the retried job fails for good', 30_000);
    const last = await admin.getJob(handle.id);
    // Quarantined again only after both attempts of the new run crashed; with the old count it would have been
    // quarantined at the first crash (attempts 1, crashes 3).
    expect(last).toMatchObject({ attempts: 2, error: { reason: 'quarantined', fields: { crashes: 2 } } });
    expect(last?.error?.message).toMatch(/2 times/);
    expect(last?.error?.cause).toMatchObject({ reason: 'exit' });
  });
});
