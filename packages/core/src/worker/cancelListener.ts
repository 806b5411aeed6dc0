import type { RedisClient } from '../redisConnection.ts';
import type { Logger } from 'pino';
import { cancelChannel } from '../store/taskpoolKeys.ts';
import type { TaskSlot } from './inlineExecutor.ts';

/** How many recent cancels a worker remembers, for jobs it fetches just after their cancel went out. */
const RECENT_CANCELS = 10_000;

/** The jobs a worker holds (fetched, waiting for or running in a slot) and the cancels it has heard. */
export class CancelBook {
  private readonly held = new Map<string, { slot?: TaskSlot; cancelled: boolean }>();
  private readonly recent = new Set<string>();

  /** A job fetched: from now on a cancel for it is kept. */
  hold(jobId: string): void {
    this.held.set(jobId, { cancelled: this.recent.has(jobId) });
  }

  /** The job runs in `slot`: a cancel now aborts it. */
  attach(jobId: string, slot: TaskSlot): void {
    const entry = this.held.get(jobId);
    if (entry) entry.slot = slot;
  }

  /** True if a cancel for the job was heard. */
  isCancelled(jobId: string): boolean {
    return this.held.get(jobId)?.cancelled === true || this.recent.has(jobId);
  }

  /** The job is done here. */
  release(jobId: string): void {
    this.held.delete(jobId);
  }

  /** A cancel was heard: remember it, and abort the job if it runs here. Returns the slot aborted, if any. */
  cancel(jobId: string): TaskSlot | undefined {
    this.recent.add(jobId);
    if (this.recent.size > RECENT_CANCELS) this.recent.delete(this.recent.values().next().value as string);
    const entry = this.held.get(jobId);
    if (!entry) return undefined;
    entry.cancelled = true;
    entry.slot?.abort('cancelled');
    return entry.slot;
  }
}

/**
 * Listens on the deployment's cancel channel. Every worker remembers recent cancels; the one holding the
 * job aborts it (the handler's signal, then SIGKILL of its sandbox after the kill grace), or fails it
 * before it starts if it is still waiting for a sandbox.
 */
export async function listenForCancels(redis: RedisClient, prefix: string, book: CancelBook, logger: Logger): Promise<{ stop(): Promise<void> }> {
  const subscriber = redis.duplicate();
  const channel = cancelChannel(prefix);
  subscriber.on('message', (_channel: string, text: string) => {
    let jobId: unknown;
    try {
      jobId = (JSON.parse(text) as { jobId?: unknown }).jobId;
    } catch {
      return;
    }
    if (typeof jobId !== 'string') return;
    const slot = book.cancel(jobId);
    if (slot) logger.info({ event: 'job:cancel', jobId, sandboxPid: slot.pid });
  });
  await subscriber.subscribe(channel);
  return {
    async stop() {
      await subscriber.quit().catch(() => subscriber.disconnect());
    },
  };
}
