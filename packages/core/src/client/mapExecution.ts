import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { AnyTask } from '../defineTask.ts';
import { JobNotFoundError, PayloadTooLargeError, TaskpoolError, ValidationError } from '../errors.ts';
import type { ItemOutcome } from '../itemOutcome.ts';
import { assertJobSize, chunkJobData, jobOutput, jobRunMs, outputRefOf, readJobOutput, taskJobData, type JobData } from '../store/jobData.ts';
import type { Ref } from '../objects/objectRef.ts';
import { claimCheck, type ClaimCheckTarget } from '../objects/claimCheck.ts';
import { serializeError } from '../serializeError.ts';
import { checkInputs } from '../parseTaskIO.ts';
import { encodeValue, type EncodedValue } from '../valueCodec.ts';
import type { CancelResult } from './cancelTask.ts';
import { ChunkSizer } from './chunkSizer.ts';
import type { CompletionWatcher, Settled } from './completionWatcher.ts';
import type { ErrorRegistry } from './errorRegistry.ts';
import type { TaskJobOptions } from './jobOptions.ts';
import { retryOnDisconnect } from './retryOnDisconnect.ts';
import type { Outcome } from './taskHandle.ts';

/** One item of a map, in `settled` mode: its position in the inputs and its outcome. */
export type MapItem<Out> = { index: number; ok: true; value: Out } | { index: number; ok: false; error: Error };

/** The outcomes of one job's items, the first being input `first`. */
export interface MapBatch {
  first: number;
  outcomes: Outcome<unknown>[];
}

/** A map's progress: items finished (succeeded or failed), of which failed, and the number of inputs once known. */
export interface MapProgress {
  done: number;
  failed: number;
  /** Known from the start for an array (or anything with a `size`), else once the inputs are exhausted. */
  total?: number;
}

/** What a map needs from its client. */
export interface MapHost {
  readonly watcher: CompletionWatcher;
  readonly errors: ErrorRegistry;
  queue(name: string): Queue;
  cancel(queue: string, jobId: string): Promise<CancelResult>;
  /** Reads an output carried by reference (the claim check). */
  getObject(ref: Ref): Promise<unknown>;
  /** Where a one-item job's big input goes (the claim check). */
  readonly objects: ClaimCheckTarget;
}

/** How one map runs. */
export interface MapPlan {
  task: AnyTask;
  queue: string;
  jobOptions: TaskJobOptions;
  /** Items per job, or `'auto'` (see {@link ChunkSizer}). */
  chunkSize: number | 'auto';
  /** Most jobs in flight; undefined: the default, `max(8, ceil(1024 / chunkSize))` (for `'auto'`, of the current size). */
  window: number | undefined;
  ordered: boolean;
  /** The most one job's data may take in Redis (see `ClientOptions.maxJobBytes`). */
  maxJobBytes: number;
  /** The client's `submitRetryMs`: adds retry while Redis is unreachable for this long, or 30 s if longer. */
  submitRetryMs: number;
  signal?: AbortSignal;
  onProgress: (progress: MapProgress) => void;
}

/** Jobs per `addBulk` (one MULTI). */
const ADD_BATCH = 200;
/** Jobs in flight at most while an automatic chunk size is still growing: most jobs are then sent at a measured size. */
const RAMP_WINDOW = 8;
/** How long adds are retried at least while Redis is unreachable before the map fails (a long map is costly to lose to a blip). */
const ADD_RETRY_MS = 30_000;

/** One job of a map (or, when every input of the chunk was invalid, none). */
interface Slot {
  /** Index of its first input. */
  first: number;
  count: number;
  /** Sent as a chunk job (`kind: 'chunk'`, one outcome per item), else as a task's job. */
  chunk: boolean;
  /** Positions in the chunk of the inputs that were sent; the others failed validation. */
  sent: number[];
  invalid: Map<number, Error>;
  jobId?: string;
  /** The job's data until it is added. */
  data?: JobData;
  /** A one-item job's encoded input until it is added (its data is made then: see `add`). */
  input?: EncodedValue;
  added: boolean;
  outcomes?: Outcome<unknown>[];
}

class Wakeup {
  private waiters: (() => void)[] = [];
  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}

/**
 * The engine of `client.map`: a pump reads the inputs lazily, validates them, packs them into jobs and adds
 * them, never more than `window` jobs whose items the consumer has not all yielded; the consumer takes the
 * settled jobs in input order (or as they settle) and yields their items. So memory holds at most
 * `window × chunkSize` inputs or results, however many inputs there are.
 */
export class MapExecution {
  private readonly slots = new Set<Slot>();
  /** Settled, not yet consumed, in the order they settled (unordered mode). */
  private readonly ready: Slot[] = [];
  private readonly wakeup = new Wakeup();
  private readonly progress: MapProgress = { done: 0, failed: 0 };
  private source: Iterator<unknown> | AsyncIterator<unknown> | undefined;
  private next = 0;
  private inputDone = false;
  private inputError: { error: unknown } | undefined;
  private fatal: { error: unknown } | undefined;
  private pumpDone = false;
  private stopped = false;
  /** Slots taken by the consumer whose items are still being yielded: they count in the window. */
  private yielding = 0;
  /** Sizes the chunks when `chunkSize` is `'auto'`. */
  private readonly sizer: ChunkSizer | undefined;

  constructor(
    private readonly host: MapHost,
    private readonly plan: MapPlan,
    private readonly inputs: Iterable<unknown> | AsyncIterable<unknown>,
  ) {
    const size = Array.isArray(inputs) ? inputs.length : (inputs as { size?: unknown }).size;
    if (typeof size === 'number') this.progress.total = size;
    if (plan.chunkSize === 'auto') this.sizer = new ChunkSizer();
  }

  /** Items of the next chunk. */
  private get chunkSize(): number {
    return this.sizer ? this.sizer.size : (this.plan.chunkSize as number);
  }

  /** Jobs in flight at most now (for `'auto'`, it follows the chunk size, and is small while the size grows). */
  private get window(): number {
    const window = this.plan.window ?? Math.max(8, Math.ceil(1024 / this.chunkSize));
    return this.sizer?.growing ? Math.min(window, RAMP_WINDOW) : window;
  }

  /** A snapshot of the progress. */
  get snapshot(): MapProgress {
    return { ...this.progress };
  }

  /**
   * Runs the map; yields each job's outcomes once, in the map's order (a job is a batch of items: the caller
   * yields them one by one, and asks for the next batch only once it has yielded them all, so that the batch
   * counts in the window until then). Leaving early cancels the jobs still queued or running.
   */
  async *batches(): AsyncGenerator<MapBatch, void, undefined> {
    let finished = false;
    const onAbort = (): void => this.wakeup.notify();
    this.plan.signal?.addEventListener('abort', onAbort);
    try {
      this.plan.signal?.throwIfAborted();
      await this.host.watcher.listen(this.plan.queue);
      void this.pump();
      for (;;) {
        const slot = this.takeReady();
        if (slot) {
          const outcomes = slot.outcomes ?? [];
          slot.outcomes = undefined;
          this.yielding++;
          yield { first: slot.first, outcomes };
          this.yielding--;
          this.wakeup.notify();
          continue;
        }
        if (this.fatal) throw this.fatal.error;
        this.plan.signal?.throwIfAborted();
        if (this.slots.size === 0 && this.pumpDone) {
          if (this.inputError) throw this.inputError.error;
          finished = true;
          return;
        }
        await this.wakeup.wait();
      }
    } finally {
      this.plan.signal?.removeEventListener('abort', onAbort);
      this.stopped = true;
      this.wakeup.notify();
      if (!finished) await this.abandon();
    }
  }

  private takeReady(): Slot | undefined {
    let slot: Slot | undefined;
    if (this.plan.ordered) {
      const head = this.slots.values().next().value;
      if (head?.outcomes) slot = head;
    } else {
      slot = this.ready.shift();
    }
    if (slot) this.slots.delete(slot);
    return slot;
  }

  private async pump(): Promise<void> {
    try {
      while (!this.stopped && !this.inputDone) {
        const window = this.window;
        const free = window - this.slots.size - this.yielding;
        // Refill the window in batches, not one job per result taken: one addBulk (a MULTI) per batch.
        if (free < Math.max(1, Math.min(ADD_BATCH, Math.floor(window / 4)))) {
          await this.wakeup.wait();
          continue;
        }
        const batch = await this.read(Math.min(free, ADD_BATCH));
        if (batch.length > 0) await this.add(batch);
      }
    } catch (error) {
      this.fatal ??= { error };
    } finally {
      this.pumpDone = true;
      this.wakeup.notify();
    }
  }

  /** Reads up to `jobs` chunks of inputs, validates them, and makes them slots (already visible to the consumer). */
  private async read(jobs: number): Promise<Slot[]> {
    const slots: Slot[] = [];
    const isAsync = Symbol.asyncIterator in this.inputs;
    this.source ??= isAsync ? (this.inputs as AsyncIterable<unknown>)[Symbol.asyncIterator]() : (this.inputs as Iterable<unknown>)[Symbol.iterator]();
    while (slots.length < jobs && !this.inputDone) {
      const chunk: unknown[] = [];
      const size = this.chunkSize;
      try {
        // A sync iterator (an array...) is read without an await per item.
        const source = this.source;
        while (chunk.length < size) {
          const step = isAsync ? await source.next() : (source as Iterator<unknown>).next();
          if (step.done) {
            this.inputDone = true;
            break;
          }
          chunk.push(step.value);
        }
      } catch (error) {
        this.inputError = { error };
        this.inputDone = true;
      }
      if (this.inputDone) this.progress.total ??= this.next + chunk.length;
      if (chunk.length > 0) slots.push(...this.slotsOf(chunk));
      if (this.stopped) break;
    }
    return slots;
  }

  /** The chunk's slot; with `'auto'`, a chunk too large for one job is split (and the size capped below it). */
  private slotsOf(chunk: unknown[]): Slot[] {
    if (!this.sizer || chunk.length === 1) return [this.slotOf(chunk)];
    try {
      return [this.slotOf(chunk)];
    } catch (error) {
      if (!(error instanceof PayloadTooLargeError)) throw error;
      this.sizer.capBelow(chunk.length);
      const half = Math.ceil(chunk.length / 2);
      return [...this.slotsOf(chunk.slice(0, half)), ...this.slotsOf(chunk.slice(half))];
    }
  }

  /** Checks a chunk's inputs (in one pass), and makes it a slot, already visible to the consumer (nothing is kept if it throws). */
  private slotOf(chunk: unknown[]): Slot {
    const asChunk = this.sizer ? chunk.length > 1 : this.chunkSize > 1;
    const slot: Slot = { first: this.next, count: chunk.length, chunk: asChunk, sent: [], invalid: new Map(), added: false };
    // Stored as given (pruned to what the schema keeps), not as parsed: the sandbox parses each item once.
    const valid: unknown[] = [];
    const checked = checkInputs(this.plan.task, chunk);
    for (let i = 0; i < checked.length; i++) {
      const item = checked[i]!;
      if (item.ok) {
        slot.sent.push(i);
        valid.push(item.value);
      } else {
        slot.invalid.set(i, new ValidationError('INVALID_INPUT', this.plan.task.name, item.issues));
      }
    }
    if (valid.length > 0 && asChunk) {
      const data = chunkJobData(encodeValue(valid));
      // Thrown before the slot is kept: with 'auto', the chunk is then split.
      assertJobSize(`map job of task ${this.plan.task.name}`, data, this.plan.maxJobBytes);
      slot.jobId = randomUUID();
      slot.data = data;
    } else if (valid.length > 0) {
      // A one-item job: a big input goes by reference when the job is added (see `add`), so it is not refused here.
      slot.jobId = randomUUID();
      slot.input = encodeValue(valid[0]);
    }
    this.next += chunk.length;
    this.slots.add(slot);
    if (!slot.jobId) this.settle(slot, undefined);
    return slot;
  }

  /** Adds the slots' jobs in one `addBulk`, retried while Redis is unreachable (their ids, made in `slotOf`, make a repeat harmless). */
  private async add(slots: Slot[]): Promise<void> {
    const jobs = slots.filter((slot) => slot.jobId !== undefined);
    if (jobs.length === 0) return;
    for (const slot of jobs) {
      if (!slot.input) continue;
      // A big input is stored (owned by its job) before the job is added; the others are carried as they are.
      slot.data = taskJobData(await claimCheck(slot.input, this.host.objects, { queue: this.plan.queue, jobId: slot.jobId! }));
      assertJobSize(`map job of task ${this.plan.task.name}`, slot.data, this.plan.maxJobBytes);
      slot.input = undefined;
    }
    let added!: () => void;
    const adding = new Promise<void>((resolve) => (added = resolve));
    for (const slot of jobs) {
      // Awaited before the add, so no event of the job can be missed; a missing job is not final until added.
      this.host.watcher.wait(this.plan.queue, slot.jobId!, { adding }).then(
        (settled) => {
          // An output stored by reference (a one-item job's big output) is read first; every other settles at once.
          if (settled?.state !== 'completed') return this.settle(slot, settled);
          const ref = outputRefOf(settled.value);
          if (!ref) return this.settle(slot, settled);
          const { attemptsMade } = settled;
          void this.host.getObject(ref).then(
            (value) => this.settle(slot, { state: 'completed', attemptsMade, value: jobOutput(encodeValue(value), jobRunMs(settled.value)) }),
            (error: unknown) => this.settle(slot, { state: 'failed', error: serializeError(error), attemptsMade }),
          );
        },
        (error: unknown) => {
          this.fatal ??= { error };
          this.wakeup.notify();
        },
      );
    }
    const queue = this.host.queue(this.plan.queue);
    const entries = jobs.map((slot) => ({ name: this.plan.task.name, data: slot.data, opts: { ...this.plan.jobOptions, jobId: slot.jobId! } }));
    try {
      await retryOnDisconnect(() => queue.addBulk(entries), { forMs: Math.max(ADD_RETRY_MS, this.plan.submitRetryMs), stopped: () => this.stopped });
    } finally {
      added();
    }
    for (const slot of jobs) {
      slot.data = undefined;
      slot.added = true;
    }
    if (this.stopped) await this.cancel(jobs);
  }

  private settle(slot: Slot, settled: Settled | undefined): void {
    const outcomes: Outcome<unknown>[] = new Array<Outcome<unknown>>(slot.count);
    for (const [i, error] of slot.invalid) outcomes[i] = { ok: false, error };
    const sent = settled ? this.outcomesOf(slot, settled) : [];
    slot.sent.forEach((position, j) => {
      outcomes[position] = sent[j] ?? { ok: false, error: new TaskpoolError('INVALID_OUTPUT', `Job ${slot.jobId} returned no outcome for item ${slot.first + position}`) };
    });
    slot.outcomes = outcomes;
    this.progress.done += slot.count;
    this.progress.failed += outcomes.filter((o) => !o.ok).length;
    if (!this.plan.ordered) this.ready.push(slot);
    this.wakeup.notify();
    try {
      this.plan.onProgress(this.snapshot);
    } catch (error) {
      // A progress listener that throws fails the map with its error, as a throwing loop body would.
      this.fatal ??= { error };
    }
  }

  /** The outcomes of the inputs a settled job was sent. */
  private outcomesOf(slot: Slot, settled: Settled): Outcome<unknown>[] {
    const jobId = slot.jobId ?? '';
    if (settled.state === 'missing') return slot.sent.map(() => ({ ok: false, error: new JobNotFoundError(jobId) }));
    const attempts = Math.max(settled.attemptsMade, 1);
    if (settled.state === 'failed') {
      const error = this.host.errors.rebuild(jobId, settled.error, settled.attemptsMade);
      return slot.sent.map(() => ({ ok: false, error }));
    }
    const runMs = jobRunMs(settled.value);
    if (runMs !== undefined) this.sizer?.report(slot.sent.length, runMs);
    // Outputs were parsed once, in the sandbox: they are decoded here, not parsed again.
    let output: unknown;
    try {
      output = readJobOutput(settled.value);
    } catch (error) {
      return slot.sent.map(() => ({ ok: false, error: error as Error }));
    }
    if (!slot.chunk) return [{ ok: true, value: output }];
    const items = output as ItemOutcome[] | null;
    if (!Array.isArray(items) || items.length !== slot.sent.length) {
      const error = new TaskpoolError('INVALID_OUTPUT', `Chunk job ${jobId} did not return one outcome per item (is the worker older than this client?)`);
      return slot.sent.map(() => ({ ok: false, error }));
    }
    // A success is kept as the worker's record ({ ok: true, value }): no copy per item.
    return items.map((item) => (item.ok ? (item as Outcome<unknown>) : { ok: false, error: this.host.errors.rebuild(jobId, item.error, attempts) }));
  }

  /** Stops the map: drops its waits and cancels its jobs that have not finished. */
  private async abandon(): Promise<void> {
    const source = this.source;
    if (source?.return) void Promise.resolve(source.return()).catch(() => undefined);
    await this.cancel([...this.slots].filter((slot) => slot.added && !slot.outcomes));
  }

  private async cancel(slots: Slot[]): Promise<void> {
    for (const slot of slots) this.host.watcher.release(this.plan.queue, slot.jobId!);
    await Promise.all(slots.map((slot) => this.host.cancel(this.plan.queue, slot.jobId!).catch(() => undefined)));
  }
}
