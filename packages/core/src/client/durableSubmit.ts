import { ClientClosedError, NotReplicatedError } from '../errors.ts';
import type { RedisClient } from '../redisConnection.ts';
import { waitForReplicas } from '../store/waitForReplicas.ts';

/** How many replicas must confirm a durable submit, and how long to wait for them (see `SubmitOptions.durable`). */
export interface DurableOptions {
  /** Replicas that must hold the job before the submit returns. Default: 1. */
  replicas?: number;
  /** Most time to wait for them, in ms. Default: 1000. */
  timeoutMs?: number;
}

/** A durable submit's checked options. */
export type DurableWait = Required<DurableOptions>;

const DEFAULT_REPLICAS = 1;
const DEFAULT_TIMEOUT_MS = 1_000;

/**
 * The checked options of a submit's `durable`, or `undefined` when it is off; call it before the add, so a
 * bad value writes nothing.
 *
 * @throws RangeError for replicas or a timeout that is not a positive integer.
 */
export function durableWait(durable: boolean | DurableOptions | undefined): DurableWait | undefined {
  if (durable === undefined || durable === false) return undefined;
  const { replicas = DEFAULT_REPLICAS, timeoutMs = DEFAULT_TIMEOUT_MS } = durable === true ? {} : durable;
  if (!Number.isInteger(replicas) || replicas < 1) throw new RangeError(`durable.replicas must be a positive integer, got ${replicas}`);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new RangeError(`durable.timeoutMs must be a positive integer, got ${timeoutMs}`);
  return { replicas, timeoutMs };
}

/** A durable submit's jobs, added before it asks for confirmation. */
export interface DurableJobs {
  /** The job the caller gets a handle on (named in the error). */
  jobId: string;
  /** Keys of every job the submit added. */
  jobKeys: readonly string[];
}

interface Pending extends DurableJobs {
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Confirms durable submits with Redis `WAIT` on a connection of its own (opened on first use): `WAIT` blocks
 * its connection, which must not hold up the client's other commands. Confirmations asked for while one is
 * under way share the next `WAIT` (a group commit), so concurrent durable submits wait about one replication
 * round trip, not one each.
 */
export class ReplicaConfirmer {
  #redis: RedisClient | undefined;
  #closed = false;
  readonly #batches = new Map<string, { wait: DurableWait; pending: Pending[]; running: boolean }>();

  constructor(
    private readonly connect: () => RedisClient,
    private readonly prefix: string,
  ) {}

  /**
   * Returns at once without a `wait`; else resolves once the replicas asked for hold the jobs.
   *
   * @throws NotReplicatedError when fewer confirmed within the time, or the confirmation itself failed (its `cause`).
   */
  confirm(wait: DurableWait | undefined, jobs: DurableJobs): Promise<void> {
    if (!wait) return Promise.resolve();
    if (this.#closed) return Promise.reject(new ClientClosedError());
    const key = `${wait.replicas}/${wait.timeoutMs}`;
    let batch = this.#batches.get(key);
    if (!batch) this.#batches.set(key, (batch = { wait, pending: [], running: false }));
    const confirmed = new Promise<void>((resolve, reject) => batch.pending.push({ ...jobs, resolve, reject }));
    if (!batch.running) void this.#drain(batch);
    return confirmed;
  }

  /** Closes the connection; confirmations under way fail with `NotReplicatedError`. */
  async close(): Promise<void> {
    this.#closed = true;
    const redis = this.#redis;
    if (redis) await redis.quit().catch(() => redis.disconnect());
  }

  async #drain(batch: { wait: DurableWait; pending: Pending[]; running: boolean }): Promise<void> {
    batch.running = true;
    try {
      while (batch.pending.length > 0) {
        const jobs = batch.pending.splice(0);
        const keys = jobs.flatMap((job) => job.jobKeys);
        let holding: number[] = [];
        let failure: unknown;
        try {
          this.#redis ??= this.connect();
          holding = await waitForReplicas(this.#redis, { prefix: this.prefix, jobKeys: keys, ...batch.wait });
        } catch (error) {
          failure = error;
        }
        let at = 0;
        for (const job of jobs) {
          const acknowledged = Math.min(...job.jobKeys.map((_, i) => holding[at + i] ?? 0));
          at += job.jobKeys.length;
          if (acknowledged >= batch.wait.replicas) job.resolve();
          else job.reject(new NotReplicatedError(job.jobId, batch.wait.replicas, acknowledged, batch.wait.timeoutMs, failure === undefined ? undefined : { cause: failure }));
        }
      }
    } finally {
      batch.running = false;
    }
  }
}
