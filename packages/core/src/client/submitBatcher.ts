import type { Queue } from 'bullmq';
import { isConnectionError } from '../redisConnection.ts';
import type { TaskJobOptions } from './jobOptions.ts';

/** One job to add. */
export interface JobToAdd {
  name: string;
  data: unknown;
  opts: TaskJobOptions & { jobId: string };
}

interface Pending {
  job: JobToAdd;
  resolve: (id: string) => void;
  reject: (error: unknown) => void;
}

/** Jobs per `addBulk` at most. */
const MAX_BATCH = 500;

/**
 * Pipelined submits: the adds asked for in the same tick (several `submit`s not awaited one by one, e.g. in a
 * `Promise.all`) go to Redis together, one `addBulk` (one MULTI, and one pipeline for the per-task counts)
 * per queue, rather than two round trips each. Each add still settles on its own: if a batch fails with
 * anything but a connection error (which every add of it would meet alike, and which the submit's retry
 * handles), its jobs are added again one by one, so only the add at fault rejects (an add that had landed is
 * ignored the second time: its id exists). A lone add is sent as one, as before.
 */
export class SubmitBatcher {
  readonly #pending = new Map<string, Pending[]>();
  #scheduled = false;

  constructor(private readonly queue: (name: string) => Queue) {}

  /**
   * Adds a job to a queue, with the other adds of this tick; resolves once it is in Redis, with the id of the job
   * that holds it: the job's own, or another's when BullMQ deduplicated the add (`opts.deduplication`).
   */
  add(queueName: string, job: JobToAdd): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      let list = this.#pending.get(queueName);
      if (!list) this.#pending.set(queueName, (list = []));
      list.push({ job, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        process.nextTick(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const batches = [...this.#pending];
    this.#pending.clear();
    for (const [queueName, list] of batches) {
      for (let at = 0; at < list.length; at += MAX_BATCH) void this.#send(this.queue(queueName), list.slice(at, at + MAX_BATCH));
    }
  }

  async #send(queue: Queue, batch: Pending[]): Promise<void> {
    if (batch.length === 1) return this.#sendOne(queue, batch[0]!);
    let added: { id?: string | undefined }[];
    try {
      added = await queue.addBulk(batch.map(({ job }) => job));
    } catch (error) {
      if (isConnectionError(error)) {
        for (const { reject } of batch) reject(error);
      } else {
        await Promise.all(batch.map((pending) => this.#sendOne(queue, pending)));
      }
      return;
    }
    batch.forEach(({ job, resolve }, i) => resolve(added[i]?.id ?? job.opts.jobId));
  }

  async #sendOne(queue: Queue, { job, resolve, reject }: Pending): Promise<void> {
    try {
      const added = await queue.add(job.name, job.data, job.opts);
      resolve(added.id ?? job.opts.jobId);
    } catch (error) {
      reject(error);
    }
  }
}
