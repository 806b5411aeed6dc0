import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { AnyTask } from '../defineTask.ts';
import { JobNotFoundError, TaskpoolError, ValidationError } from '../errors.ts';
import type { ItemOutcome } from '../itemOutcome.ts';
import { assertJobSize, chunkJobData, readJobOutput, taskJobData, type JobData } from '../store/jobData.ts';
import { checkInput } from '../parseTaskIO.ts';
import { encodeValue } from '../valueCodec.ts';
import type { CancelResult } from './cancelTask.ts';
import type { CompletionWatcher, Settled } from './completionWatcher.ts';
import type { ErrorRegistry } from './errorRegistry.ts';
import type { TaskJobOptions } from './jobOptions.ts';
import { retryOnDisconnect } from './retryOnDisconnect.ts';
import type { Outcome } from './taskHandle.ts';

/** One item of a map, in `settled` mode: its position in the inputs and its outcome. */
export type MapItem<Out> = { index: number; ok: true; value: Out } | { index: number; ok: false; error: Error };

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
}

/** How one map runs. */
export interface MapPlan {
  task: AnyTask;
  queue: string;
  jobOptions: TaskJobOptions;
  chunkSize: number;
  window: number;
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
/** How long adds are retried at least while Redis is unreachable before the map fails (a long map is costly to lose to a blip). */
const ADD_RETRY_MS = 30_000;

/** One job of a map (or, when every input of the chunk was invalid, none). */
interface Slot {
  /** Index of its first input. */
  first: number;
  count: number;
  /** Positions in the chunk of the inputs that were sent; the others failed validation. */
  sent: number[];
  invalid: Map<number, Error>;
  jobId?: string;
  /** The job's data until it is added. */
  data?: JobData;
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
  /** Free slots the pump waits for before it reads and adds more. */
  private readonly refillAt: number;

  constructor(
    private readonly host: MapHost,
    private readonly plan: MapPlan,
    private readonly inputs: Iterable<unknown> | AsyncIterable<unknown>,
  ) {
    const size = Array.isArray(inputs) ? inputs.length : (inputs as { size?: unknown }).size;
    if (typeof size === 'number') this.progress.total = size;
    // Refill the window in batches, not one job per result taken: one addBulk (a MULTI) per batch.
    this.refillAt = Math.max(1, Math.min(ADD_BATCH, Math.floor(plan.window / 4)));
  }

  /** A snapshot of the progress. */
  get snapshot(): MapProgress {
    return { ...this.progress };
  }

  /** Runs the map; yields every item once. Leaving early cancels the jobs still queued or running. */
  async *items(): AsyncGenerator<MapItem<unknown>, void, undefined> {
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
          for (let i = 0; i < outcomes.length; i++) yield { index: slot.first + i, ...(outcomes[i] as Outcome<unknown>) };
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
        const free = this.plan.window - this.slots.size - this.yielding;
        if (free < this.refillAt) {
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
    this.source ??= Symbol.asyncIterator in this.inputs ? this.inputs[Symbol.asyncIterator]() : this.inputs[Symbol.iterator]();
    while (slots.length < jobs && !this.inputDone) {
      const chunk: unknown[] = [];
      try {
        while (chunk.length < this.plan.chunkSize) {
          const step = await this.source.next();
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
      if (chunk.length > 0) slots.push(this.slotOf(chunk));
      if (this.stopped) break;
    }
    return slots;
  }

  private slotOf(chunk: unknown[]): Slot {
    const slot: Slot = { first: this.next, count: chunk.length, sent: [], invalid: new Map(), added: false };
    this.next += chunk.length;
    // Stored as given (pruned to what the schema keeps), not as parsed: the sandbox parses each item once.
    const valid: unknown[] = [];
    chunk.forEach((input, i) => {
      const checked = checkInput(this.plan.task, input);
      if (checked.ok) {
        slot.sent.push(i);
        valid.push(checked.value);
      } else {
        slot.invalid.set(i, new ValidationError('INVALID_INPUT', this.plan.task.name, checked.issues));
      }
    });
    if (valid.length > 0) {
      slot.jobId = randomUUID();
      slot.data = this.plan.chunkSize === 1 ? taskJobData(encodeValue(valid[0])) : chunkJobData(encodeValue(valid));
      assertJobSize(`map job of task ${this.plan.task.name}`, slot.data, this.plan.maxJobBytes);
    }
    this.slots.add(slot);
    if (!slot.jobId) this.settle(slot, undefined);
    return slot;
  }

  /** Adds the slots' jobs in one `addBulk`, retried while Redis is unreachable (their ids, made in `slotOf`, make a repeat harmless). */
  private async add(slots: Slot[]): Promise<void> {
    const jobs = slots.filter((slot) => slot.jobId !== undefined);
    if (jobs.length === 0) return;
    let added!: () => void;
    const adding = new Promise<void>((resolve) => (added = resolve));
    for (const slot of jobs) {
      // Awaited before the add, so no event of the job can be missed; a missing job is not final until added.
      this.host.watcher.wait(this.plan.queue, slot.jobId!, { adding }).then(
        (settled) => this.settle(slot, settled),
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
    // Outputs were parsed once, in the sandbox: they are decoded here, not parsed again.
    let output: unknown;
    try {
      output = readJobOutput(settled.value);
    } catch (error) {
      return slot.sent.map(() => ({ ok: false, error: error as Error }));
    }
    if (this.plan.chunkSize === 1) return [{ ok: true, value: output }];
    const items = output as ItemOutcome[] | null;
    if (!Array.isArray(items) || items.length !== slot.sent.length) {
      const error = new TaskpoolError('INVALID_OUTPUT', `Chunk job ${jobId} did not return one outcome per item (is the worker older than this client?)`);
      return slot.sent.map(() => ({ ok: false, error }));
    }
    return items.map((item) => (item.ok ? { ok: true, value: item.value } : { ok: false, error: this.host.errors.rebuild(jobId, item.error, attempts) }));
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
