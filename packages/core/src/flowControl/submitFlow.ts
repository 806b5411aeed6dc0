import type { DeduplicationOptions } from 'bullmq';
import type { TaskContract } from '../taskContract.ts';
import type { GateLimits } from '../store/flowGate.ts';
import type { EncodedValue } from '../valueCodec.ts';
import { deduplicationOf, type DedupeOverride } from '../client/dedupe.ts';
import { gateDelayMs, gateKeyOf, gateLimitsOf } from './taskGate.ts';

/** What flow control adds to one submit: BullMQ job options, and the gate the job enters once added, if any. */
export interface SubmitFlow {
  /** `deduplication` (a dedupe key), `delay` (held until the gate admits it). */
  jobOptions: { deduplication?: DeduplicationOptions; delay?: number };
  /** The gate's limits and this job's key in it: after the add, the job is entered there (`taskGate.ts`). */
  gate?: { limits: GateLimits; key: string };
}

/**
 * The flow control of one submit of `task` with its checked `input` (`client.submit` and `admin.submitBatch` alike):
 * its dedupe key, and for a task with concurrency limits, its gate key and the delay that holds it until admitted.
 * A gated submit's own `delayMs` is refused (`TypeError`): not supported with the gate yet.
 */
export function submitFlow(task: TaskContract, input: EncodedValue, options: { dedupe?: DedupeOverride | false | undefined; delayMs?: number | undefined }): SubmitFlow {
  const deduplication = deduplicationOf(task, input, options.dedupe);
  const limits = gateLimitsOf(task);
  if (limits && options.delayMs) throw new TypeError(`Task ${task.name} has concurrency limits: a submit's delayMs is not supported with them yet`);
  return {
    jobOptions: { ...(deduplication && { deduplication }), ...(limits && { delay: gateDelayMs() }) },
    ...(limits && { gate: { limits, key: gateKeyOf(task, input) } }),
  };
}
