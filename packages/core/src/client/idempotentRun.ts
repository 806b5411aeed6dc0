import { createHash } from 'node:crypto';
import type { FlowJob } from 'bullmq';
import stableStringify from 'safe-stable-stringify';
import { IdempotencyConflictError } from '../errors.ts';
import type { RedisClient } from '../redisConnection.ts';
import { jobKey } from '../store/jobKeys.ts';
import { readFieldOfEach } from '../store/jobReads.ts';
import type { StepTemplate } from '../workflow/stepTemplate.ts';
import { idempotentJobId } from './jobOptions.ts';

/** Options of `client.run()`. */
export interface RunOptions {
  /**
   * Runs the workflow at most once per key: its id is derived from the key (the same id the HTTP API's
   * `Idempotency-Key` gives on `POST /v1/workflows`), and a second run with the same key and the same
   * workflow (same steps, inputs and options) returns a handle on the first, adding nothing. The same key
   * with another workflow throws `IdempotencyConflictError` (the first is looked for in the client's known
   * queues: `ClientOptions.queues` and those it sent to). Lasts as long as the workflow's root job is kept
   * (by default 24 h once completed, 7 days once failed). Default: none (a new workflow each time).
   */
  idempotencyKey?: string;
}

/** The job option, kept by BullMQ in the root job's `opts`, that holds the digest of an idempotent workflow. */
const DIGEST_OPTION = 'tpDigest';

/** The root id of a workflow run with an idempotency key: stable, and never a task's job id for the same key. */
export function idempotentWorkflowId(key: string): string {
  return idempotentJobId('$workflow', key);
}

/** What an idempotent run needs of its client. */
export interface IdempotentRunHost {
  redis: RedisClient;
  prefix: string;
  /** The queues a root with this id may be in (the client's known queues). */
  queues: Iterable<string>;
  /** Adds a flow (retried while Redis is away; the ids are fixed, so a retry adds nothing twice). */
  add(flow: FlowJob): Promise<unknown>;
  /** Runs a read again while Redis is unreachable, as the client's submits do. */
  retried<T>(read: () => Promise<T>): Promise<T>;
}

/**
 * Adds the flow of a workflow with an idempotency key unless its root exists, and says whether it did
 * (`replayed`: an earlier run had). Its root carries the digest of the compiled workflow, written in the
 * same MULTI as the flow: a root found (in any known queue) with another digest, or in another queue, is
 * another workflow, and throws {@link IdempotencyConflictError}. A flow is never added over an existing root
 * (its finished steps may be gone, and would run again). Two concurrent runs may both add it: BullMQ ignores
 * the jobs whose ids exist, so one workflow is made, and the digest read after the add catches a loser that
 * sent another workflow in the same queue. Both then answer `replayed: false`.
 */
export async function addWorkflowOnce(host: IdempotentRunHost, flow: FlowJob, template: StepTemplate): Promise<{ replayed: boolean }> {
  const id = flow.opts?.jobId;
  if (id === undefined) throw new TypeError('addWorkflowOnce: the flow has no id');
  const digest = createHash('sha256').update(stableStringify(template)).digest('hex');
  const found = await host.retried(() => findRoot(host, id, host.queues));
  if (found) {
    if (found.queue !== flow.queueName || found.digest !== digest) throw new IdempotencyConflictError(id);
    return { replayed: true };
  }
  // BullMQ keeps option keys it does not know in the job's `opts` (as it keeps `timeoutMs`).
  const opts: NonNullable<FlowJob['opts']> & Record<typeof DIGEST_OPTION, string> = { ...flow.opts, [DIGEST_OPTION]: digest };
  await host.add({ ...flow, opts });
  const added = await host.retried(() => findRoot(host, id, [flow.queueName]));
  // Gone already (a completed root removed at once by a keep policy of 0 s) counts as ours.
  if (added && added.digest !== digest) throw new IdempotencyConflictError(id);
  return { replayed: false };
}

/** The queue of the existing root with this id, and its digest, or undefined. One pipeline over the known queues. */
async function findRoot(host: IdempotentRunHost, id: string, among: Iterable<string>): Promise<{ queue: string; digest: string | undefined } | undefined> {
  const queues = [...new Set(among)];
  const replies = await readFieldOfEach(host.redis, queues.map((queue) => jobKey(host.prefix, queue, id)), 'opts');
  for (const [index, [error, opts]] of replies.entries()) {
    if (error) throw error;
    if (opts !== null) return { queue: queues[index]!, digest: digestIn(opts) };
  }
  return undefined;
}

function digestIn(opts: string): string | undefined {
  try {
    const value = (JSON.parse(opts) as Record<string, unknown>)[DIGEST_OPTION];
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}
