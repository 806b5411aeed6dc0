import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { RedisClient } from '../redisConnection.ts';
import { CheckedInputs } from '../checkedInputs.ts';
import { idempotentJobId, jobOptions, type KeepPolicy, type SubmitOptions } from '../client/jobOptions.ts';
import { sameStoredData } from '../client/sameStoredData.ts';
import { queueOf } from '../defineTask.ts';
import { IdempotencyConflictError } from '../errors.ts';
import { assertJobSize, taskJobData } from '../store/jobData.ts';
import { claimCheck, retriedTarget, type ClaimCheckTarget } from '../objects/claimCheck.ts';
import { readStoredData } from '../store/jobReads.ts';
import { retryOnDisconnect, type RetryOnDisconnectOptions } from '../client/retryOnDisconnect.ts';
import { enterAndPromote, taskGate } from '../flowControl/taskGate.ts';
import { submitFlow } from '../flowControl/submitFlow.ts';

/**
 * One job of a batch: its id, whether an earlier submit with the same idempotency key had created it, and whether
 * the input was deduplicated into an earlier submit's job (the id is then that job's, see `SubmitOptions.dedupe`).
 */
export interface BatchJob {
  id: string;
  replayed: boolean;
  deduplicated?: true;
}

/** Per-job overrides of the task's defaults for every job of a batch (as `client.submit`'s). Default: none. */
export type BatchJobOptions = Pick<SubmitOptions, 'attempts' | 'backoff' | 'priority' | 'timeoutMs' | 'delayMs' | 'dedupe'>;

/** What {@link submitBatch} enqueues: inputs checked by `checkInputs`, and optionally one idempotency key per input. */
export interface BatchRequest {
  inputs: CheckedInputs;
  idempotencyKeys?: readonly string[] | undefined;
  /** Overrides of the task's defaults, for every job. Default: none. */
  options?: BatchJobOptions | undefined;
  keep: KeepPolicy;
  /** The most one job's data may take in Redis. */
  maxJobBytes: number;
  /** Where an input too big to carry goes (the claim check). */
  objects: ClaimCheckTarget;
  /** How the reads and the add retry while Redis is unreachable (for `AdminOptions.submitRetryMs`). */
  retry: RetryOnDisconnectOptions;
}

/**
 * Enqueues checked inputs of one task in one round trip (`Queue.addBulk`, a MULTI), with the job options
 * (the task's defaults, overridden by `options`) and idempotent job ids `client.submit` uses (`client/jobOptions.ts`). With keys, they are checked first: a
 * key already used with a different input throws {@link IdempotencyConflictError} and nothing is added; a
 * key already used with the same input (in any key order) returns the first job (BullMQ ignores an add whose
 * id exists). While Redis is unreachable they are retried as `retry` says, then `RedisUnavailableError` is
 * thrown: the ids are made before the first attempt, so a retry never enqueues a job twice.
 */
export async function submitBatch(queue: Queue, redis: RedisClient, request: BatchRequest): Promise<BatchJob[]> {
  const { inputs, idempotencyKeys } = request;
  const { task } = inputs;
  if (!CheckedInputs.isFor(inputs, task)) throw new TypeError('submitBatch takes the inputs checkInputs() made');
  if (queue.name !== queueOf(task)) throw new Error(`Task ${task.name} goes to queue ${queueOf(task)}, not ${queue.name}`);
  const ids = inputs.values.map((_, i) => (idempotencyKeys ? idempotentJobId(task.name, idempotencyKeys[i]!) : randomUUID()));
  // Each input's dedupe key (the task's, or the request's for every input: then they share one job) and, for a task
  // with concurrency limits, the gate it waits in (flowControl/submitFlow.ts).
  const flows = inputs.values.map((input) => submitFlow(task, input, request.options ?? {}));
  const retried = <T>(call: () => Promise<T>): Promise<T> => retryOnDisconnect(call, request.retry);
  // A big input is stored as an object owned by its job, and the job carries the reference (the claim check).
  const queueName = queue.name;
  const target = retriedTarget(request.objects, retried);
  const data = await Promise.all(inputs.values.map(async (input, i) => taskJobData(await claimCheck(input, target, { queue: queueName, jobId: ids[i]! }))));
  data.forEach((item, i) => assertJobSize(`input ${i} of task ${task.name}`, item, request.maxJobBytes));
  const stored = idempotencyKeys ? await retried(() => readStoredData(redis, ids.map((id) => queue.toKey(id)))) : ids.map(() => null);
  stored.forEach((text, i) => {
    if (text !== null && !sameStoredData(text, data[i])) throw new IdempotencyConflictError(ids[i]!);
  });
  const options = jobOptions(task.defaults, request.options ?? {}, request.keep);
  const added = await retried(() =>
    queue.addBulk(data.map((item, i) => ({ name: task.name, data: item, opts: { ...options, jobId: ids[i]!, ...flows[i]!.jobOptions } }))),
  );
  const jobs: BatchJob[] = [];
  for (const [i, id] of ids.entries()) {
    const heldBy = added[i]?.id ?? id;
    if (heldBy === id) {
      jobs.push({ id, replayed: stored[i] !== null });
      continue;
    }
    // Deduplicated into an earlier job (an object this input was stored as is nobody's: the workers' sweep deletes it).
    jobs.push({ id: heldBy, replayed: false, deduplicated: true });
  }
  const limits = flows[0]?.gate?.limits;
  const entered = ids.flatMap((id, i) => (jobs[i]!.id === id && !jobs[i]!.replayed && flows[i]!.gate ? [{ key: flows[i]!.gate!.key, id }] : []));
  if (limits && entered.length > 0) await retried(() => enterAndPromote(taskGate(redis, queue.opts.prefix ?? '', queueName, task.name, limits), queue, entered));
  return jobs;
}
