import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { cancelChannel } from '../workerInfo.ts';
import type { TaskSlot } from './inlineExecutor.ts';

/**
 * Listens on the deployment's cancel channel; a message naming a job this worker runs aborts it
 * (the handler's signal, then SIGKILL of its sandbox after the kill grace). Other workers ignore it.
 */
export async function listenForCancels(redis: Redis, prefix: string, active: ReadonlyMap<string, TaskSlot>, logger: Logger): Promise<{ stop(): Promise<void> }> {
  const subscriber = redis.duplicate();
  const channel = cancelChannel(prefix);
  subscriber.on('message', (_channel: string, text: string) => {
    let jobId: unknown;
    try {
      jobId = (JSON.parse(text) as { jobId?: unknown }).jobId;
    } catch {
      return;
    }
    const sandbox = typeof jobId === 'string' ? active.get(jobId) : undefined;
    if (!sandbox) return;
    logger.info({ event: 'job:cancel', jobId, sandboxPid: sandbox.pid });
    sandbox.abort('cancelled');
  });
  await subscriber.subscribe(channel);
  return {
    async stop() {
      await subscriber.quit().catch(() => subscriber.disconnect());
    },
  };
}
