import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { QueueEventReader, type QueueEvent } from '../packages/core/src/store/queueEventReader.ts';
import { connectRedis, redisUrl, testPrefix } from './helpers/testRedis.ts';

const prefix = testPrefix(import.meta.url);
const readers: QueueEventReader[] = [];
afterEach(() => readers.splice(0).forEach((reader) => reader.close()));

/** Starts a reader of `key` on a connection of its own; collects what it reports. */
async function startReader(key: string) {
  const seen: QueueEvent[] = [];
  let missed = 0;
  const reader = new QueueEventReader({
    connection: new Redis(redisUrl(), { maxRetriesPerRequest: null }),
    key,
    onEvent: (event) => seen.push(event),
    onMissedEvents: () => void missed++,
  });
  readers.push(reader);
  await reader.start();
  return { seen, missed: () => missed };
}

/** Polls until `check` holds, or fails after `ms`. */
async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('Condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Adds `count` completed events in one MULTI, trimming the stream to `maxLen` as each is added (as BullMQ
 * trims, but exactly): the reader, blocked in XREAD, is served only after the whole transaction.
 */
async function addInOneStep(redis: Redis, key: string, from: number, count: number, maxLen: number): Promise<void> {
  const multi = redis.multi();
  for (let i = from; i < from + count; i++) multi.xadd(key, 'MAXLEN', maxLen, '*', 'event', 'completed', 'jobId', `j${i}`, 'returnvalue', String(i));
  await multi.exec();
}

describe('QueueEventReader', () => {
  it('reports missed events when the stream was trimmed past its position before it could read', async () => {
    await using redis = await connectRedis(redisUrl());
    const key = `${prefix}:trimmed:events`;
    await redis.xadd(key, '*', 'event', 'completed', 'jobId', 'j0', 'returnvalue', '0');
    const reader = await startReader(key);

    // Control: 100 events kept whole (maxLen 1000) are all read, and no gap is reported.
    await addInOneStep(redis, key, 1, 100, 1_000);
    await until(() => reader.seen.length === 100);
    expect(reader.missed()).toBe(0);

    // 100 more events with the stream kept to 5: the reader gets only the last 5, and says it missed some.
    await addInOneStep(redis, key, 101, 100, 5);
    await until(() => reader.missed() > 0);
    await until(() => reader.seen.length === 105);
    expect(reader.missed()).toBe(1);
    expect(reader.seen.slice(100).map((event) => event.jobId)).toEqual(['j196', 'j197', 'j198', 'j199', 'j200']);
  });

  it('decodes completed, failed, removed and progress events and ignores the others', async () => {
    await using redis = await connectRedis(redisUrl());
    const key = `${prefix}:kinds:events`;
    await redis.xadd(key, '*', 'event', 'added', 'jobId', 'j0');
    const reader = await startReader(key);
    await redis.xadd(key, '*', 'event', 'active', 'jobId', 'j1', 'prev', 'waiting');
    await redis.xadd(key, '*', 'event', 'progress', 'jobId', 'j1', 'data', '{"pct":50}');
    await redis.xadd(key, '*', 'event', 'completed', 'jobId', 'j1', 'returnvalue', '{"ok":true}');
    await redis.xadd(key, '*', 'event', 'failed', 'jobId', 'j2', 'failedReason', 'boom');
    await redis.xadd(key, '*', 'event', 'removed', 'jobId', 'j3');
    await until(() => reader.seen.length === 4);
    expect(reader.seen).toEqual([
      { event: 'progress', jobId: 'j1', data: '{"pct":50}' },
      { event: 'completed', jobId: 'j1', returnvalue: '{"ok":true}' },
      { event: 'failed', jobId: 'j2' },
      { event: 'removed', jobId: 'j3' },
    ]);
    expect(reader.missed()).toBe(0);
  });
});
