import { Queue, raw2NextJobData, Worker, type Job, type JobJson, type Processor, type WorkerOptions } from 'bullmq';
import type { RedisClient } from '../redisConnection.ts';
import { finishJobs, takeJobs, type FinishedJob, type LeanQueue, type TakenJob } from '../store/leanLane.ts';

/** What a completion made by the lane resolves with (one made by BullMQ's call gives the next job, or nothing). */
const LEAN: unique symbol = Symbol('completed by the lane');

/** Most jobs one take or one finish call carries. */
export const LEAN_BATCH_MAX = 32;
/** Completed jobs past their age are trimmed at most this often, ms (BullMQ trims at every completion). */
const TRIM_EVERY_MS = 200;
/** Fewest completed jobs one trim may remove (more when more jobs completed since the last). */
const TRIM_LIMIT = 1_000;

type Held = TakenJob & { token: string };
/** A completion waiting for the others of its turn; `alone` completes it by BullMQ's own call (with the next job). */
type Finishing = FinishedJob & { alone: () => Promise<Job | undefined>; resolve: (next: Job | undefined | typeof LEAN) => void; reject: (error: Error) => void };

/** Where a {@link LeanWorker} runs its own calls. */
export interface LeanOptions {
  /** The connection of the lane's calls (the worker's own BullMQ connection). */
  redis: RedisClient;
  prefix: string;
}

/**
 * A BullMQ `Worker` whose two per-job calls run K jobs at a time (the lean lane, `store/leanLane.ts`): its fetch
 * takes from `wait` as many jobs as it has free slots in one call, and completions of one turn of the event loop
 * go to Redis in one call. Everything else is BullMQ's: its main loop, lock renewal, stalled check, pause and
 * close; failures; and every job or queue the lane leaves to it (a paused, globally limited or rate-limited
 * queue, a due delayed job, an empty `wait` with prioritized jobs, a completion of a job with a parent, a
 * deduplication id, a repeat or a count-based retention). Under load this takes most of the Redis round trips,
 * and of Redis's script work, off each job (docs/architecture.md, "Per-job floor").
 *
 * It reaches into three of BullMQ's protected methods (`moveToActive`, `nextJobFromJobData`,
 * `handleCompleted`) and one private one (`updateDelays`): bullmq is pinned, and the worker tests run through
 * this class.
 */
export class LeanWorker extends Worker {
  readonly #lane: LeanQueue;
  /** Jobs taken by the last call and not yet handed to BullMQ's loop (it asks for them at once, in turn). */
  #ready: Held[] = [];
  /** The oldest ids of `wait`, as the last call saw them: the next take's keys. */
  #candidates: string[] = [];
  #finishing: Finishing[] = [];
  #flush: NodeJS.Immediate | undefined;
  /** Jobs between their fetch and their outcome. */
  #processing = 0;
  readonly #trimmer: Queue;
  #lastTrim = 0;
  #completedSinceTrim = 0;
  /** The longest age (ms) of the jobs completed since the last trim: what the trim keeps. */
  #trimAgeMs: number | undefined;

  constructor(name: string, processor: Processor, options: WorkerOptions, lean: LeanOptions) {
    super(name, processor, options);
    this.#lane = { redis: lean.redis, prefix: lean.prefix, queue: name };
    this.#trimmer = new Queue(name, { connection: lean.redis, prefix: lean.prefix });
    this.#trimmer.on('error', (error) => this.emit('error', error));
  }

  override async processJob(job: Job, token: string, fetchNextCallback?: () => boolean): Promise<void | Job> {
    this.#processing++;
    try {
      return await super.processJob(job, token, fetchNextCallback);
    } finally {
      this.#processing--;
    }
  }

  protected override async moveToActive(token: string, name?: string): Promise<Job> {
    const ready = this.#ready.shift();
    if (ready) return this.#hand(ready);
    if (this.opts.limiter) return super.moveToActive(token, name);
    const want = Math.max(1, Math.min(LEAN_BATCH_MAX, this.concurrency - this.#processing));
    // With no candidates known (an idle worker woken by a new job), BullMQ's one call is quicker than two:
    // the lane starts with the candidates the next completion or take gives back. With one slot free, the same.
    const candidates = want > 1 ? this.#candidates.splice(0, want) : [];
    if (candidates.length === 0) return super.moveToActive(token, name);
    const take = await takeJobs(this.#lane, candidates, { token, lockMs: this.opts.lockDuration ?? 30_000, workerName: name ?? this.opts.name ?? '', count: LEAN_BATCH_MAX });
    if (take.fallback) {
      this.#candidates = [];
      return super.moveToActive(token, name);
    }
    this.#candidates = take.candidates;
    const [first, ...rest] = take.taken.map((taken) => ({ ...taken, token }));
    // Another worker took them first: one fetch of BullMQ's own.
    if (!first) return super.moveToActive(token, name);
    this.#ready.push(...rest);
    // What BullMQ's own fetch does with a job in hand (no rate-limit delay, no delayed job to wait for).
    (this as unknown as { updateDelays?(limitDelay: number, delayUntil: number): void }).updateDelays?.(0, 0);
    return this.#hand(first);
  }

  protected override async handleCompleted(result: unknown, job: Job, token: string, fetchNextCallback?: () => boolean, span?: Parameters<Worker['handleCompleted']>[4]): Promise<Job> {
    const ageMs = plainAgeMs(job);
    if (ageMs === false || this.closing) return super.handleCompleted(result, job, token, fetchNextCallback, span);
    const alone = (): Promise<Job | undefined> => super.handleCompleted(result, job, token, fetchNextCallback, span);
    const next = await new Promise<Job | undefined | typeof LEAN>((resolve, reject) => {
      this.#finishing.push({ id: job.id ?? '', token, returnValue: JSON.stringify(result ?? null), alone, resolve, reject });
      if (!this.#flush) this.#flush = setImmediate(() => void this.#finish());
    });
    if (next !== LEAN) return next as Job;
    // Completed by the lane: what BullMQ's call would have told and done.
    if (ageMs !== undefined) this.#trimAgeMs = Math.max(this.#trimAgeMs ?? 0, ageMs);
    job.returnvalue = result;
    job.finishedOn = Date.now();
    job.attemptsMade += 1;
    this.emit('completed', job, result, 'active');
    this.#trim();
    return undefined as unknown as Job;
  }

  override async close(force?: boolean): Promise<void> {
    const closed = super.close(force);
    // Jobs taken and never handed over go back to waiting (the loop asks for none once closing).
    const left = this.#ready.splice(0);
    await Promise.all(left.map((held) => this.createJob(jobJson(held), held.id).moveToWait(held.token).catch((error: unknown) => this.emit('error', error as Error))));
    await closed;
    await this.#trimmer.close();
  }

  #hand(held: Held): Promise<Job> {
    return this.nextJobFromJobData(jobJson(held), held.id, held.token);
  }

  async #finish(): Promise<void> {
    this.#flush = undefined;
    const jobs = this.#finishing.splice(0, LEAN_BATCH_MAX);
    if (this.#finishing.length > 0) this.#flush = setImmediate(() => void this.#finish());
    // A lone completion gains nothing from the lane: BullMQ's call completes it and fetches the next job in one.
    if (jobs.length === 1) {
      const [job] = jobs as [Finishing];
      job.alone().then(job.resolve, job.reject);
      return;
    }
    try {
      const { codes, candidates } = await finishJobs(this.#lane, jobs, LEAN_BATCH_MAX);
      this.#candidates = candidates;
      for (const [i, job] of jobs.entries()) {
        const code = codes[i] ?? 0;
        if (code === 0) job.resolve(LEAN);
        else job.reject(finishError(code, job.id));
      }
    } catch (error) {
      for (const job of jobs) job.reject(error as Error);
    }
  }

  /** Removes completed jobs past their age, as BullMQ's completion does, at most every {@link TRIM_EVERY_MS}. */
  #trim(): void {
    this.#completedSinceTrim++;
    const ageMs = this.#trimAgeMs;
    const now = Date.now();
    if (ageMs === undefined || now - this.#lastTrim < TRIM_EVERY_MS) return;
    const limit = Math.max(TRIM_LIMIT, 2 * this.#completedSinceTrim);
    this.#lastTrim = now;
    this.#completedSinceTrim = 0;
    this.#trimAgeMs = undefined;
    this.#trimmer.clean(ageMs, limit, 'completed').catch((error: unknown) => this.emit('error', error as Error));
  }
}

/** A taken job's hash as BullMQ's own fetch decodes it. */
function jobJson(held: TakenJob): JobJson {
  return (raw2NextJobData([held.fields]) as [JobJson])[0];
}

/**
 * The age (ms) a job's completion keeps completed jobs for, `undefined` for ever; `false` when its completion is
 * BullMQ's own to make (a parent to tell, a deduplication id to free, a repeat, a count-based or immediate removal).
 */
function plainAgeMs(job: Job): number | undefined | false {
  if (job.parentKey || job.deduplicationId || job.repeatJobKey) return false;
  const keep = job.opts.removeOnComplete;
  if (keep === undefined || keep === false) return undefined;
  if (typeof keep !== 'object') return false;
  const { age, count } = keep as { age?: number; count?: number };
  if (count !== undefined || age === undefined) return false;
  return age * 1000;
}

/** BullMQ's error for a completion Redis refused (the same messages as its `moveToFinished`). */
function finishError(code: number, jobId: string): Error {
  const what: Record<number, string> = {
    [-1]: `Missing key for job ${jobId}. moveToFinished`,
    [-2]: `Missing lock for job ${jobId}. moveToFinished`,
    [-3]: `Job ${jobId} is not in the active state. moveToFinished`,
    [-6]: `Lock mismatch for job ${jobId}. Cmd moveToFinished from active`,
  };
  return new Error(what[code] ?? `Unknown code ${code} for job ${jobId}. moveToFinished`);
}
