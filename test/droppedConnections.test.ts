import { describe, expect, it } from 'vitest';
import { createClient, type MapProgress } from '@taskpool/core';
import { startTestWorker } from '@taskpool/core/testing';
import { square, squarePlusOne } from './fixtures/mapTasks.ts';
import { startDropProxy } from './helpers/dropProxy.ts';
import { connectRedis, redisUrl, testPrefix } from './helpers/testRedis.ts';
import { useFixture } from './helpers/useFixture.ts';

const prefix = testPrefix(import.meta.url);
// The worker talks to Redis directly; only the client's connections go through the proxy.
useFixture(() => startTestWorker({ redisUrl: redisUrl(), prefix, tasksModule: 'test/fixtures/mapTasks.ts', concurrency: 2 }));
const proxy = useFixture(() => startDropProxy(redisUrl()));

const ITEMS = 30_000;
const CHUNK = 10;
/** Progress (in items done) at which the client's connections are cut and the event stream emptied. */
const DROPS_AT = [0.1, 0.25, 0.4, 0.55, 0.7, 0.85].map((share) => Math.floor(share * ITEMS));

describe('a map whose client loses its connections', () => {
  it('still yields every result exactly once, in order, when its connections drop and its events are lost', async () => {
    await using redis = await connectRedis(redisUrl());
    const client = createClient({ redisUrl: proxy.url, prefix });
    const eventsKey = `${prefix}:default:events`;
    const inputs = Array.from({ length: ITEMS }, (_, i) => i);
    let drops = 0;
    let outage: Promise<void> = Promise.resolve();
    const onProgress = ({ done }: MapProgress): void => {
      if (drops >= DROPS_AT.length || done < DROPS_AT[drops]!) return;
      const which = drops++;
      // Cut every connection of the client (commands, adds, the event reader), and empty the event stream so
      // that the events written meanwhile are gone for good, as when BullMQ trims the stream under load.
      proxy.dropAll();
      outage = outage.then(async () => {
        await redis.xtrim(eventsKey, 'MAXLEN', 0);
        if (which === 2) {
          // Once, Redis stays unreachable for a second: adds fail and are retried.
          proxy.refuse(true);
          await new Promise((resolve) => setTimeout(resolve, 1_000));
          proxy.refuse(false);
        }
        await redis.xtrim(eventsKey, 'MAXLEN', 0);
      });
    };
    try {
      const accepted = proxy.accepted;
      const items = await client.map(square, inputs, { chunkSize: CHUNK, window: 100, settled: true, onProgress }).toArray();
      await outage;
      expect(drops).toBe(DROPS_AT.length);
      expect(proxy.accepted - accepted).toBeGreaterThan(DROPS_AT.length);
      expect(items.map((item) => item.index)).toEqual(inputs);
      expect(items.filter((item) => !item.ok)).toEqual([]);
      expect(items.map((item) => (item.ok ? item.value : undefined))).toEqual(inputs.map(squarePlusOne));
    } finally {
      await client.close();
    }
  });
});
