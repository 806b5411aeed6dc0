import type { Job } from 'bullmq';
import { STALLED_FAILURE, isStalledReason, writeJobError } from '../store/jobError.ts';
import { jobKey } from '../store/jobKeys.ts';
import { createStepRunner, type StepRunnerContext } from './workflowStep.ts';

/**
 * Records the failures BullMQ makes without running the processor. A job whose lock lapsed more than
 * `maxStalledCount` times (its worker died or froze each time) is failed by the next worker that fetches it
 * (BullMQ's deferred failure), so no `tpError` was written and no `onFailure` callback ran: this writes
 * {@link STALLED_FAILURE} (reason `stalled`) beside the job, logs `job:fail`, and runs the step's `onFailure`
 * callbacks. Give it each job of the BullMQ worker's `failed` event; it ignores the others.
 */
export function createStalledFailureRecorder(ctx: StepRunnerContext): (job: Job | undefined) => Promise<void> {
  const steps = createStepRunner(ctx);
  return async (job) => {
    if (!job?.id || !isStalledReason(job.deferredFailure)) return;
    await writeJobError(ctx.redis, jobKey(ctx.prefix, job.queueName, job.id), STALLED_FAILURE);
    ctx.counts.failed++;
    ctx.logger.warn(
      { event: 'job:fail', jobId: job.id, task: job.name, reason: 'stalled', stalledCount: job.stalledCounter, err: STALLED_FAILURE },
      STALLED_FAILURE.message,
    );
    await steps.failedOutside(job, STALLED_FAILURE);
  };
}
