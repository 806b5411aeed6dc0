import type { z } from 'zod';

/**
 * What a task is apart from its handler: its name, its zod contract and its defaults. Workflows, validation
 * and job options need only this, so they do not import `defineTask.ts` (which imports them).
 */
export interface TaskContract<In extends z.ZodType = z.ZodType, Out extends z.ZodType = z.ZodType> {
  readonly kind: 'taskpool.task';
  readonly name: string;
  readonly input: In;
  readonly output: Out;
  readonly defaults: Readonly<TaskDefaults>;
}

/**
 * Deduplication of a task's submits (issue #16): a submit whose key is that of a job submitted less than `ttlMs`
 * before (by any client or producer) enqueues nothing and returns that job's handle (BullMQ's deduplication id,
 * `<task name>:<key>`). The window starts at the first submit and is not extended by the later ones.
 */
export interface DedupeOptions<In = unknown> {
  /** The key of a submit, from its input (after the input schema's parse), e.g. `(input) => input.userId`. A non-empty string. */
  key(input: In): string;
  /** How long after the first submit of a key the later ones return its job, ms. */
  ttlMs: number;
}

/**
 * Concurrency limits of a task across every worker of the deployment (issue #16): a job is admitted (sent to its
 * queue's `wait`) only while fewer than `limit` jobs of its key and fewer than `global` jobs of the task are
 * admitted and not finished; the others wait, pending, without holding back jobs of other keys, and keys are
 * served round-robin (start-time fair queueing). A job holds its slot from its admission to its final outcome
 * (its retries included). Set `limit`, `global`, `rate` or any of them.
 */
export interface ConcurrencyOptions<In = unknown> {
  /** The key of a job, from its input (after the input schema's parse), e.g. `(input) => input.tenantId`. Default: one key for every job. */
  key?(input: In): string;
  /** Most jobs of one key admitted at once. Default: no limit per key. */
  limit?: number;
  /** Most jobs of the task admitted at once, whatever their key. Default: no global limit. */
  global?: number;
  /**
   * Most jobs of one key started per `durationMs` (a token bucket: up to `max` at once after a quiet spell, then
   * `max / durationMs` on average); a job over it waits, never fails. For a rate of the whole task, give it a queue of
   * its own and `rateLimit`. Default: none.
   */
  rate?: { max: number; durationMs: number };
}

/** How a task runs and retries unless a submit overrides it; `In` is the task's parsed input. */
export interface TaskDefaults<In = unknown> {
  /** Total attempts, the first included. Default: 1 (no retry). */
  attempts?: number;
  /** Wait between attempts. Default: exponential from 1000 ms. */
  backoff?: { type: 'fixed' | 'exponential'; delayMs: number };
  /** The queue the task's jobs go to; a worker serves a list of queues. Default: `'default'`. */
  queue?: string;
  /** Priority, 1 is highest (BullMQ's rule). Default: none (FIFO). */
  priority?: number;
  /**
   * Hard time limit of one attempt, in ms: the handler's `signal` fires, then after the worker's kill grace
   * the process running it is SIGKILLed. Default: none.
   */
  timeoutMs?: number;
  /**
   * Where the handler runs: `process` (a sandbox process: hard timeouts, kills and memory caps hold fully),
   * `thread` (a worker thread: timeouts and cancels terminate the thread, the heap cap is V8's; but
   * `process.abort()` or a native crash takes the whole worker down), or `inline` (the worker's own event
   * loop, for I/O-bound tasks; timeouts and cancels only fire the signal). All tasks of one queue share one
   * isolation. Default: `process`.
   */
  isolation?: Isolation;
  /** At most `max` jobs of this task's queue start per `durationMs`, across all workers (BullMQ's limiter, per queue). */
  rateLimit?: { max: number; durationMs: number };
  /** Submits of the same key inside a window return the first one's job (see {@link DedupeOptions}). Default: none. */
  dedupe?: DedupeOptions<In>;
  /** Concurrency limits per key and per task across all workers (see {@link ConcurrencyOptions}). Default: none. */
  concurrency?: ConcurrencyOptions<In>;
}

/** The queue a task's jobs go to. */
export function queueOf(task: Pick<TaskContract, 'defaults'>): string {
  return task.defaults.queue ?? DEFAULT_QUEUE;
}

/** Where a task's handler runs: see {@link TaskDefaults.isolation}. */
export type Isolation = 'process' | 'thread' | 'inline';

/** Where a task's handler runs. */
export function isolationOf(task: Pick<TaskContract, 'defaults'>): Isolation {
  return task.defaults.isolation ?? 'process';
}

/** The queue used when a task names none. */
export const DEFAULT_QUEUE = 'default';
