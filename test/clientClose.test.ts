import { describe, expect, it } from 'vitest';
import { ClientClosedError, createClient } from '@taskpool/core';
import { sumSqrt } from './fixtures/tasks.ts';
import { rejectionOf } from './helpers/rejectionOf.ts';
import { redisUrl, testPrefix } from './helpers/testRedis.ts';

const prefix = testPrefix(import.meta.url);

// No worker serves this prefix: every job stays waiting.
describe('client.close()', () => {
  it('rejects pending results, maps, waits and asCompleted with ClientClosedError; the jobs stay queued', async () => {
    const client = createClient({ redisUrl: redisUrl(), prefix });
    const handle = await client.submit(sumSqrt, { n: 10 });
    // Each expectation is attached before the close, as an awaiting caller's would be.
    const result = rejectionOf(handle.result(), ClientClosedError);
    const mapped = rejectionOf(client.map(sumSqrt, [{ n: 1 }, { n: 2 }]).toArray(), ClientClosedError);
    const settled = rejectionOf(handle.settled(), ClientClosedError);
    const waited = rejectionOf(client.wait([handle]), ClientClosedError);
    const completed = rejectionOf(client.asCompleted([handle]).next(), ClientClosedError);
    await expect(handle.result({ timeoutMs: 200 })).rejects.toMatchObject({ code: 'RESULT_TIMEOUT' });
    await client.close();
    expect((await result).code).toBe('CLIENT_CLOSED');
    await mapped;
    await settled;
    await waited;
    await completed;
    await rejectionOf(handle.result(), ClientClosedError);

    const other = createClient({ redisUrl: redisUrl(), prefix });
    try {
      expect(await other.getJob(handle.id)).toMatchObject({ state: 'waiting' });
    } finally {
      await other.close();
    }
  });
});
