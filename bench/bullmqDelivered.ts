import { performance } from 'node:perf_hooks';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';

/** As many jobs in flight as taskpool's `map` keeps at chunkSize 1 (its default window). */
const WINDOW = 1_024;
/** Refill the window once this many slots are free, as `map` does (window / 4). */
const REFILL_AT = WINDOW / 4;
/** No completion for this long: give up (events trimmed unread, a dead worker). */
const STALL_MS = 60_000;

/**
 * Raw BullMQ doing what taskpool's `map` does at chunkSize 1: `n` no-op jobs `{ i }` through `queueName`,
 * at most {@link WINDOW} in flight (refilled by `addBulk`), every result read back through a `QueueEvents`
 * reader (its `completed` event carries the job's return value, parsed), kept by input index and checked.
 * Resolves with the wall time from the first add to the last result.
 */
export async function bullmqDelivered(connection: { url: string }, prefix: string, queueName: string, n: number): Promise<number> {
  const queue = new Queue(queueName, { connection, prefix });
  // The reader starts after the stream's last event, not at `$`: reading from `$` would miss the events of jobs
  // that finish before its first XREAD reaches Redis.
  const redis = new Redis(connection.url, { lazyConnect: true });
  let events: QueueEvents | undefined;
  let ticker: NodeJS.Timeout | undefined;
  try {
    await queue.waitUntilReady();
    const [last] = await redis.xrevrange(queue.keys.events!, '+', '-', 'COUNT', 1);
    events = new QueueEvents(queueName, { connection, prefix, lastEventId: last?.[0] ?? '0-0' });
    await events.waitUntilReady();
    const results = new Array<number | undefined>(n);
    const indexOf = new Map<string, number>();
    // A completion can arrive before `addBulk` has told us the job's id: keep it until it does.
    const early = new Map<string, { i: number }>();
    let received = 0;
    let failure: string | undefined;
    let waiter: (() => void) | undefined;
    const notify = (): void => {
      const wake = waiter;
      waiter = undefined;
      wake?.();
    };
    const settle = (jobId: string, value: { i: number }): void => {
      const index = indexOf.get(jobId);
      if (index === undefined) return void early.set(jobId, value);
      indexOf.delete(jobId);
      results[index] = value.i;
      received++;
      notify();
    };
    events.on('completed', ({ jobId, returnvalue }) => settle(jobId, returnvalue as unknown as { i: number }));
    events.on('failed', ({ jobId, failedReason }) => {
      failure ??= `job ${jobId} failed: ${failedReason}`;
      notify();
    });

    // Wakes the loop each second even without events, to notice a stall.
    ticker = setInterval(notify, 1_000);
    const started = performance.now();
    let added = 0;
    let lastProgress = started;
    let lastReceived = 0;
    while (received < n) {
      if (failure) throw new Error(`BullMQ ${queueName}: ${failure}`);
      const free = WINDOW - (added - received);
      if (added < n && free >= Math.min(REFILL_AT, n - added)) {
        const batch = Math.min(free, n - added);
        const from = added;
        const jobs = await queue.addBulk(Array.from({ length: batch }, (_, k) => ({ name: 'noop', data: { i: from + k } })));
        added += batch;
        jobs.forEach((job, k) => {
          indexOf.set(job.id!, from + k);
          const value = early.get(job.id!);
          if (value) {
            early.delete(job.id!);
            settle(job.id!, value);
          }
        });
        continue;
      }
      await new Promise<void>((resolve) => (waiter = resolve));
      if (received !== lastReceived) [lastReceived, lastProgress] = [received, performance.now()];
      else if (performance.now() - lastProgress > STALL_MS) throw new Error(`BullMQ ${queueName}: no result for ${STALL_MS} ms (${received} of ${n})`);
    }
    const ms = performance.now() - started;
    const wrong = results.filter((value, i) => value !== i).length;
    if (wrong > 0) throw new Error(`BullMQ ${queueName}: ${wrong} of ${n} results wrong`);
    return ms;
  } finally {
    clearInterval(ticker);
    redis.disconnect();
    await Promise.all([queue.close(), events?.close()]);
  }
}
