import { describe, expect, it } from 'vitest';
import { createClient, NotReplicatedError } from '@taskpool/core';
import { square } from './fixtures/mapTasks.ts';
import { expectNothingWritten, redisUrl, testPrefix } from './helpers/testRedis.ts';

// The run's Redis has no replica: a durable submit is written to it, and never confirmed.
const prefix = testPrefix(import.meta.url);

describe('a durable submit', () => {
  it('throws NotReplicatedError naming the job when no replica confirms it in time; the job was written all the same', async () => {
    await using client = createClient({ redisUrl: redisUrl(), prefix });
    const started = Date.now();
    const error = await client.submit(square, 4, { durable: { replicas: 1, timeoutMs: 200 } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotReplicatedError);
    expect(error).toMatchObject({ code: 'NOT_REPLICATED', replicas: 1, acknowledged: 0, timeoutMs: 200 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(await client.getJob((error as NotReplicatedError).jobId)).toMatchObject({ state: 'waiting', input: 4 });
  });

  it("does not hold up the client's other commands while it waits (WAIT blocks a connection of its own)", async () => {
    await using client = createClient({ redisUrl: redisUrl(), prefix });
    await client.submit(square, 1);
    const durable = client.submit(square, 2, { durable: { timeoutMs: 3_000 } }).catch((e: unknown) => e);
    const started = Date.now();
    const plain = await client.submit(square, 3);
    expect(await plain.status()).toMatchObject({ state: 'waiting', input: 3 });
    // On the client's command connection, the WAIT would hold these up for its 3 s.
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await durable).toBeInstanceOf(NotReplicatedError);
  });

  it('confirms concurrent submits together: 20 at once fail after about one timeout, not twenty', async () => {
    await using client = createClient({ redisUrl: redisUrl(), prefix });
    const started = Date.now();
    const outcomes = await Promise.allSettled(Array.from({ length: 20 }, (_, n) => client.submit(square, n, { durable: { timeoutMs: 300 } })));
    expect(outcomes.every((outcome) => outcome.status === 'rejected' && outcome.reason instanceof NotReplicatedError)).toBe(true);
    // Twenty WAITs one after another would take 6 s; the first submits' WAIT and one more for the rest, about 0.6 s.
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('refuses bad durable options before writing anything', async () => {
    await using client = createClient({ redisUrl: redisUrl(), prefix });
    await expectNothingWritten(prefix, async () => {
      await expect(client.submit(square, 1, { durable: { replicas: 0 } })).rejects.toThrow(RangeError);
      await expect(client.submit(square, 1, { durable: { timeoutMs: 0.5 } })).rejects.toThrow(RangeError);
    });
  });
});
