import { Job, type Queue } from 'bullmq';
import type { RedisClient } from '../redisConnection.ts';
import type { TaskContract } from '../taskContract.ts';
import { ValidationError } from '../errors.ts';
import { jobKey } from '../store/jobKeys.ts';
import { enterGate, releaseGate, type Gate, type GateLimits } from '../store/flowGate.ts';
import { decodeValue, type EncodedValue } from '../valueCodec.ts';

/**
 * How long a gated job is delayed when it is added: until one day before the latest due time BullMQ's delayed
 * scores can hold (their due time × 0x1000 must stay an exact double), in 2039. It is promoted once admitted.
 */
export function gateDelayMs(now = Date.now()): number {
  return Math.floor(2 ** 53 / 0x1000) - 86_400_000 - now;
}

/** The limits of a task's `concurrency` (0: none), or undefined when it declares none. Throws on a declaration without any limit. */
export function gateLimitsOf(task: TaskContract): GateLimits | undefined {
  const declared = task.defaults.concurrency;
  if (!declared) return undefined;
  const limits: GateLimits = { perKey: declared.limit ?? 0, global: declared.global ?? 0, rateMax: declared.rate?.max ?? 0, rateMs: declared.rate?.durationMs ?? 0 };
  for (const [name, value] of [['limit', limits.perKey], ['global', limits.global], ['rate.max', limits.rateMax], ['rate.durationMs', limits.rateMs]] as const) {
    if (!Number.isInteger(value) || value < 0) throw new TypeError(`Task ${task.name}: concurrency.${name} must be a positive integer, not ${String(value)}`);
  }
  if ((limits.rateMax === 0) !== (limits.rateMs === 0)) throw new TypeError(`Task ${task.name}: concurrency.rate needs both max and durationMs`);
  if (limits.perKey === 0 && limits.global === 0 && limits.rateMax === 0) throw new TypeError(`Task ${task.name}: concurrency needs a limit, a global limit or a rate`);
  return limits;
}

/** The gate key of a job (its task's `concurrency.key` of the parsed input, else `''`); ValidationError `INVALID_INPUT` unless a string without NUL. */
export function gateKeyOf(task: TaskContract, input: EncodedValue): string {
  const keyOf = task.defaults.concurrency?.key;
  if (!keyOf) return '';
  const key = keyOf.call(task.defaults.concurrency, task.input.parse(decodeValue(input)));
  if (typeof key !== 'string' || key.includes('\0') || key.length > 1024) {
    throw new ValidationError('INVALID_INPUT', task.name, [{ path: [], message: `The concurrency key must be a string of at most 1024 characters without NUL, not ${JSON.stringify(key)}`, code: 'invalid_concurrency_key' }]);
  }
  return key;
}

/** The gate of a task in its queue. */
export function taskGate(redis: RedisClient, prefix: string, queue: string, task: string, limits: GateLimits): Gate {
  return { redis, prefix, queue, task, limits };
}

/**
 * Promotes admitted jobs to `wait` (BullMQ's `promote`). A job that is gone (cancelled or removed while it was
 * pending) gives its slot back at once, which may admit others, promoted in turn. A job no longer delayed (a
 * reconcile promoting again what another promoter did) is left as it is.
 */
export async function promoteAdmitted(gate: Gate, queue: Queue, ids: readonly string[]): Promise<void> {
  let todo = [...ids];
  while (todo.length > 0) {
    const gone: string[] = [];
    await Promise.all(
      todo.map(async (id) => {
        try {
          await new Job(queue, gate.task, {}, {}, id).promote();
        } catch (error) {
          if (error instanceof Error && /Missing key/.test(error.message)) gone.push(id);
          else if (!(error instanceof Error && /not in the delayed state/.test(error.message))) throw error;
        }
      }),
    );
    if (gone.length === 0) return;
    todo = (await releaseGate(gate, gone, gone.map((id) => jobKey(gate.prefix, gate.queue, id)))).admitted;
  }
}

/** Enters jobs just added (delayed by {@link gateDelayMs}) in their task's gate, and promotes those admitted. */
export async function enterAndPromote(gate: Gate, queue: Queue, jobs: readonly { key: string; id: string }[]): Promise<void> {
  await promoteAdmitted(gate, queue, await enterGate(gate, jobs));
}

/** Most jobs one batched entry carries. */
const ENTRY_BATCH = 500;

/**
 * Batched gate entries: the entries of one tick (the submits of a `Promise.all`) go to their task's gate in one
 * script call per task, as the submit batcher does for the adds; each settles when its batch has been entered and
 * its admitted jobs promoted.
 */
export class GateEntries {
  #pending = new Map<string, { gate: Gate; queue: Queue; jobs: { key: string; id: string }[]; settle: { resolve: () => void; reject: (error: unknown) => void }[] }>();
  #scheduled = false;

  /** Enters one job (added, delayed) in `gate`; resolves once it is entered and what was admitted is promoted. */
  enter(gate: Gate, queue: Queue, job: { key: string; id: string }): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const id = `${gate.queue}\n${gate.task}`;
      let batch = this.#pending.get(id);
      if (!batch) this.#pending.set(id, (batch = { gate, queue, jobs: [], settle: [] }));
      batch.jobs.push(job);
      batch.settle.push({ resolve, reject });
      if (this.#scheduled) return;
      this.#scheduled = true;
      process.nextTick(() => {
        this.#scheduled = false;
        const batches = [...this.#pending.values()];
        this.#pending.clear();
        for (const { gate: g, queue: q, jobs, settle } of batches) {
          for (let at = 0; at < jobs.length; at += ENTRY_BATCH) {
            const part = settle.slice(at, at + ENTRY_BATCH);
            enterAndPromote(g, q, jobs.slice(at, at + ENTRY_BATCH)).then(
              () => part.forEach((s) => s.resolve()),
              (error: unknown) => part.forEach((s) => s.reject(error)),
            );
          }
        }
      });
    });
  }
}
