import { UnrecoverableError, type Job } from 'bullmq';
import { CANCELLED_BEFORE_START, isCancelledReason, isStalledReason, stalledFailure, STALLED_FAILURE, writeJobError } from '../store/jobError.ts';
import { jobKey } from '../store/jobKeys.ts';
import type { SerializedError } from '../serializeError.ts';
import { createStepRunner, type StepRunnerContext } from './workflowStep.ts';

/** Default of `maxStalls`: stalls every job survives, whatever its attempts. */
export const DEFAULT_MAX_STALLS = 2;

/**
 * BullMQ's `maxStalledCount`, set out of reach: past it BullMQ would fail the job itself, whatever its attempts.
 * Taskpool's own budget ({@link overStallBudget}) decides instead, when a worker fetches the job.
 */
export const BULLMQ_MAX_STALLED_COUNT = 1_000_000;

/** What {@link overStallBudget} reads of a job. */
export type StallCount = Pick<Job, 'stalledCounter' | 'attemptsMade' | 'opts'>;

/**
 * True when a job that stalled (its worker died, was cut off from Redis or froze while running it, so BullMQ's
 * stalled check put it back to waiting) may not run again. A stall spends one of the job's attempts, like a
 * failed attempt; but every job may stall `maxStalls` times, even one with a single attempt. So the job runs
 * again while `stalls <= maxStalls` or `attemptsMade + stalls < attempts`.
 */
export function overStallBudget(job: StallCount, maxStalls: number): boolean {
  const stalls = job.stalledCounter;
  return stalls > maxStalls && job.attemptsMade + stalls >= (job.opts.attempts ?? 1);
}

/**
 * The failures of jobs that stalled too often, which no handler reports: the job's error (reason `stalled`,
 * code `STALLED`, a message saying the handler may have run) is written beside it, `job:fail` is logged, and
 * a workflow step's `onFailure` callbacks are added.
 */
export function createStalledFailures(ctx: StepRunnerContext): {
  /**
   * Fails a job over its stall budget ({@link overStallBudget}) for good, before it runs: call it from the
   * processor, which rethrows what it throws (an `UnrecoverableError`, so BullMQ does not retry).
   */
  failOverBudget(job: Job): Promise<never>;
  /**
   * Records the failures BullMQ makes at fetch without calling the processor (its deferred failures): its own
   * stalled limit (a job marked by a worker that kept BullMQ's limit, such as an older taskpool), and a cancel
   * of a job that was not running (reason `cancelled`, see `store/flagCancel.ts`). Give it each job of the
   * worker's `failed` event; it ignores the others.
   */
  recordDeferred(job: Job | undefined): Promise<void>;
} {
  const steps = createStepRunner(ctx);
  const record = async (job: Job, failure: SerializedError): Promise<void> => {
    await writeJobError(ctx.redis, jobKey(ctx.prefix, job.queueName, job.id ?? ''), failure);
    ctx.counts.failed++;
    ctx.logger.warn(
      { event: 'job:fail', jobId: job.id, task: job.name, reason: failure.reason, stalls: job.stalledCounter, attemptsMade: job.attemptsMade, err: failure },
      failure.message,
    );
    await steps.failedOutside(job, failure);
  };
  return {
    async failOverBudget(job) {
      const failure = stalledFailure(job.stalledCounter);
      await record(job, failure);
      throw new UnrecoverableError(failure.message);
    },
    async recordDeferred(job) {
      if (job?.id && isStalledReason(job.deferredFailure)) await record(job, STALLED_FAILURE);
      // Cancelled before it ran (see store/flagCancel.ts): BullMQ failed it at fetch, never calling the processor.
      else if (job?.id && isCancelledReason(job.deferredFailure)) await record(job, CANCELLED_BEFORE_START);
    },
  };
}
