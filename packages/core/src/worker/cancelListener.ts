import { Cluster } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisClient } from '../redisConnection.ts';
import { cancelChannel } from '../store/taskpoolKeys.ts';
import type { CancelBook } from './cancelBook.ts';

/** How often a worker rereads the cancel flags of the jobs it holds, ms: the bound on a cancel whose message was lost. */
export const CANCEL_RECHECK_MS = 1_000;

/** The client name (`CLIENT LIST`) of a worker's cancel subscriber. */
export function cancelSubscriberName(workerId: string): string {
  return `taskpool:cancel:${workerId}`;
}

/** Options of {@link listenForCancels}. */
export interface CancelListenerOptions {
  prefix: string;
  /** Names the subscriber connection (see {@link cancelSubscriberName}). */
  workerId: string;
  /** How often the held jobs' flags are reread. Default: {@link CANCEL_RECHECK_MS}. */
  recheckMs?: number;
}

/**
 * Listens on the deployment's cancel channel; resolves once the subscription is confirmed, so a worker
 * starts it before it fetches anything. The worker holding the job aborts it (the handler's signal, then
 * SIGKILL of its sandbox after the kill grace), or fails it before it starts if it is still waiting for a
 * sandbox; other workers ignore the message.
 *
 * A message is lost when it is published while the subscriber is away (a reconnect), so the listener also
 * rereads the flags of the jobs held ({@link CancelBook.recheck}) every `recheckMs` and as soon as each
 * reconnect's subscription is confirmed: a cancel lands within about `recheckMs` whatever happens to the
 * message.
 */
export async function listenForCancels(redis: RedisClient, book: CancelBook, logger: Logger, options: CancelListenerOptions): Promise<{ stop(): Promise<void> }> {
  const connectionName = cancelSubscriberName(options.workerId);
  const subscriber =
    redis instanceof Cluster ? redis.duplicate([], { redisOptions: { ...redis.options.redisOptions, connectionName } }) : redis.duplicate({ connectionName });
  // Its connection errors are the worker connection's too, which logs them: without a listener ioredis prints each one.
  subscriber.on('error', () => undefined);
  const channel = cancelChannel(options.prefix);
  let stopped = false;
  const recheck = (): void => {
    if (!stopped) void book.recheck();
  };
  subscriber.on('message', (_channel: string, text: string) => {
    let jobId: unknown;
    try {
      jobId = (JSON.parse(text) as { jobId?: unknown }).jobId;
    } catch {
      return;
    }
    if (typeof jobId === 'string') book.cancel(jobId, 'message');
  });
  await subscriber.subscribe(channel);
  // After a reconnect ioredis subscribes again by itself; ours is confirmed after it, then the flags are read.
  subscriber.on('ready', () => {
    if (stopped) return;
    subscriber.subscribe(channel).then(recheck, (err: unknown) => logger.warn({ event: 'worker:error', err }, 'Could not subscribe to cancels again'));
  });
  const timer = setInterval(recheck, options.recheckMs ?? CANCEL_RECHECK_MS);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await subscriber.quit().catch(() => subscriber.disconnect());
    },
  };
}
