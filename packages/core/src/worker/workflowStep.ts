import { UnrecoverableError, WaitingChildrenError, type FlowProducer, type Job } from 'bullmq';
import type { RedisClient } from '../redisConnection.ts';
import type { Logger } from 'pino';
import { keepPolicy, type KeepPolicy } from '../client/jobOptions.ts';
import type { AnyTask } from '../defineTask.ts';
import { carriedInput, jobOutput, parseCarried, readJobData, resolveJobOutput, stepJobData, type JobData, type JobOutput, type RefCarried } from '../store/jobData.ts';
import type { Ref } from '../objects/objectRef.ts';
import { isWorkflowCancelled, publishCancels } from '../store/cancelFlags.ts';
import { jobKey } from '../store/jobKeys.ts';
import { pendingChildren, readJobErrorTexts } from '../store/jobReads.ts';
import { readJobError, storedFailure, writeJobError } from '../store/jobError.ts';
import { parseTaskOutput } from '../parseTaskIO.ts';
import { serializeError, type SerializedError } from '../serializeError.ts';
import { encodeValue, type EncodedValue } from '../valueCodec.ts';
import { childFailureOptions, childId, childIndex, materialize, workflowIdOf, type StepData, type StepMeta, type StepTemplate } from '../workflow/stepTemplate.ts';
import type { RunResult } from './runTask.ts';
import type { FailureInfo, StepOutcome } from '../workflow/workflow.ts';

/** What the step runner shares with its worker. */
export interface StepRunnerContext {
  tasks: ReadonlyMap<string, AnyTask>;
  redis: RedisClient;
  prefix: string;
  /** Adds spawned workflows and callbacks. */
  flows: FlowProducer;
  logger: Logger;
  /** Reads a child's output stored by reference (the machine's object cache). Default: the reference is given. */
  getObject?: (ref: Ref) => Promise<unknown>;
  counts: { failed: number };
}

/** Runs a job's task in a slot with the given (encoded) input; resolves to what it gave, or throws the error BullMQ records. */
export type RunAttempt = (input: EncodedValue | RefCarried) => Promise<RunResult>;

const WORKFLOW_CANCELLED: SerializedError = { name: 'CancelledError', code: 'CANCELLED', reason: 'cancelled', message: 'The workflow was cancelled' };


/**
 * Runs workflow steps (jobs whose data is `{ v, kind: 'step', wf, input? }`, see `stepTemplate.ts`) and spawns (a handler
 * that returned `ctx.spawn(...)`). A step first reads its children (their outputs and failures, kept by
 * BullMQ in the parent's `processed` and `failed` hashes), applies its failure policy, then gives the group's
 * outputs, starts its fan-out, or runs its task with the input they make. A step that fails for good
 * because of a child carries that child's error (same name, code, fields, stack).
 */
export function createStepRunner(ctx: StepRunnerContext): {
  run(job: Job, token: string | undefined, data: StepData, attempt: RunAttempt): Promise<JobOutput>;
  spawn(job: Job, token: string | undefined, data: JobData, template: StepTemplate): Promise<JobOutput>;
  /** A step failed for good where no processor ran (over its stall budget, or BullMQ's own stalled limit for a job marked by an older worker): its `onFailure` callbacks, if any. */
  failedOutside(job: Job, error: SerializedError): Promise<void>;
} {
  const { redis, prefix } = ctx;

  const failStep = async (job: Job, error: SerializedError): Promise<never> => {
    await writeJobError(redis, jobKey(prefix, job.queueName, job.id ?? ''), error);
    ctx.counts.failed++;
    ctx.logger.warn({ event: 'step:fail', jobId: job.id, task: job.name, reason: error.reason, err: error }, error.message);
    const failure = new UnrecoverableError(error.message);
    if (error.stack) failure.stack = error.stack;
    throw failure;
  };

  /** The children's outcomes by index (`.s`, the spawned workflow, at index -1). */
  const readChildren = async (job: Job): Promise<Map<number, StepOutcome<unknown>>> => {
    const [values, failures] = await Promise.all([job.getChildrenValues(), job.getIgnoredChildrenFailures()]);
    const outcomes = new Map<number, StepOutcome<unknown>>();
    for (const [key, value] of Object.entries(values ?? {})) {
      // An output stored by reference (the claim check) is read through the machine's object cache.
      outcomes.set(indexOf(job, key), { ok: true, value: await resolveJobOutput(value, ctx.getObject ?? (async (ref) => ref)) });
    }
    const failed = Object.entries(failures ?? {});
    if (failed.length > 0) {
      const errors = await readJobErrorTexts(redis, failed.map(([key]) => key));
      failed.forEach(([key, reason], i) => {
        const error = storedFailure(errors[i], String(reason) || 'The step failed')!;
        outcomes.set(indexOf(job, key), { ok: false, error });
      });
    }
    return outcomes;
  };

  /** Under the `fail` policy: stops the rest of the children (removes those not started, cancels those running). */
  const stopChildren = async (job: Job): Promise<void> => {
    try {
      await job.removeUnprocessedChildren();
      await publishCancels(redis, prefix, await pendingChildren(redis, jobKey(prefix, job.queueName, job.id ?? '')));
    } catch (error) {
      ctx.logger.warn({ event: 'step:stop-children-failed', jobId: job.id, err: error }, 'Could not stop the remaining children');
    }
  };

  /** What the step's children give it, by its policy; fails the step under `fail`. */
  const gather = async (job: Job, meta: StepMeta): Promise<unknown> => {
    const outcomes = await readChildren(job);
    const count = meta.count ?? 0;
    const ordered: StepOutcome<unknown>[] = [];
    for (let i = 0; i < count; i++) ordered.push(outcomes.get(i) ?? { ok: false, error: removedChild(childId(job.id ?? '', i)) });
    const policy = meta.policy ?? 'fail';
    if (policy === 'fail') {
      const failed = ordered.find((o) => !o.ok && o.error.reason !== 'cancelled') ?? ordered.find((o) => !o.ok);
      if (failed && !failed.ok) {
        await stopChildren(job);
        return failStep(job, failed.error);
      }
    }
    if (meta.from === 'child') return ordered[0]?.ok ? ordered[0].value : undefined;
    if (policy === 'collect') return ordered;
    return ordered.flatMap((o) => (o.ok ? [o.value] : []));
  };

  const cancelled = (job: Job): Promise<boolean> => isWorkflowCancelled(redis, prefix, workflowIdOf(job.id ?? ''));

  /** Starts `template` as child `<id>.s` of the job, then waits for it without holding anything. */
  const startSpawn = async (job: Job, token: string | undefined, data: StepData, template: StepTemplate, input?: EncodedValue | RefCarried): Promise<EncodedValue> => {
    const id = job.id ?? '';
    if (await cancelled(job)) return failStep(job, WORKFLOW_CANCELLED);
    const flow = materialize({ ...template, opts: { ...template.opts, ...childFailureOptions('fail') } }, { id: childId(id, 's'), keep: keepOf(job), input });
    await ctx.flows.add({ ...flow, opts: { ...flow.opts, parent: { id, queue: job.queueQualifiedName } } });
    await job.updateData({ ...data, wf: { ...data.wf, spawned: true } } satisfies StepData);
    ctx.logger.info({ event: 'step:spawned', jobId: id, task: job.name, child: childId(id, 's') });
    if (token && (await job.moveToWaitingChildren(token))) throw new WaitingChildrenError();
    return join(job);
  };

  /** The output of the workflow the job spawned, parsed by the job's task's output schema (the one parse of that output). */
  const join = async (job: Job): Promise<EncodedValue> => {
    const outcome = (await readChildren(job)).get(-1) ?? { ok: false as const, error: removedChild(childId(job.id ?? '', 's')) };
    if (!outcome.ok) return failStep(job, outcome.error);
    const task = ctx.tasks.get(job.name);
    try {
      return encodeValue(task ? parseTaskOutput(task, outcome.value) : outcome.value);
    } catch (error) {
      return failStep(job, { ...serializeError(error), reason: 'invalid' });
    }
  };

  const output = async (job: Job, token: string | undefined, data: StepData, attempt: RunAttempt): Promise<EncodedValue | RefCarried> => {
    const meta = data.wf;
    // A leaf's cancel reaches it as a single job's does (removed, or signalled); a step with children is woken
    // by their removal or failure, so it reads the workflow's mark.
    if (((meta.count ?? 0) > 0 || meta.spawned) && (await cancelled(job))) {
      await stopChildren(job);
      return failStep(job, WORKFLOW_CANCELLED);
    }
    if (meta.spawned) {
      // Run again after it started its workflow: normally woken because that workflow is done; but if the worker
      // died between marking `spawned` and leaving `active`, the job stalled back here with the workflow still
      // running: wait for it again rather than take it as removed.
      if (token && (await job.moveToWaitingChildren(token))) throw new WaitingChildrenError();
      return join(job);
    }
    const gathered = (meta.count ?? 0) > 0 ? await gather(job, meta) : undefined;
    if (meta.kind === 'group') return encodeValue(gathered);
    if (meta.kind === 'spawn') return startSpawn(job, token, data, meta.sub!, encodeValue(gathered));
    const carried = carriedInput(data) as EncodedValue | RefCarried | undefined;
    const result = await attempt(meta.from ? encodeValue(gathered) : (carried ?? encodeValue(undefined)));
    if ('spawn' in result) return startSpawn(job, token, data, result.spawn);
    // A step is never a chunk: its output is not carried as text (parseCarried only narrows the type).
    return 'ref' in result.output ? result.output : parseCarried(result.output);
  };

  const callbacks = async (job: Job, templates: StepTemplate[] | undefined, suffix: 'ok' | 'err', input: EncodedValue | RefCarried): Promise<void> => {
    if (!templates?.length) return;
    const keep = keepOf(job);
    await ctx.flows.addBulk(templates.map((template, i) => materialize(template, { id: `${job.id}.${suffix}${i}`, keep, input })));
  };

  const failureCallbacks = async (job: Job, meta: StepMeta, error: SerializedError): Promise<void> => {
    const info: FailureInfo = { workflowId: workflowIdOf(job.id ?? ''), jobId: job.id ?? '', task: job.name, error };
    await callbacks(job, meta.onFailure, 'err', encodeValue(info));
  };

  return {
    async run(job, token, data, attempt) {
      const meta = data.wf;
      try {
        const result = await output(job, token, data, attempt);
        await callbacks(job, meta.onSuccess, 'ok', result);
        return jobOutput(result);
      } catch (error) {
        if (meta.onFailure?.length && isFinalFailure(job, error)) {
          const stored = await readJobError(redis, jobKey(prefix, job.queueName, job.id ?? ''));
          await failureCallbacks(job, meta, stored ?? serializeError(error));
        }
        throw error;
      }
    },
    async failedOutside(job, error) {
      const data = readJobData(job.data);
      if (data?.kind === 'step') await failureCallbacks(job, data.wf as StepMeta, error);
    },
    /** A plain job's handler returned `ctx.spawn(...)`: the job becomes the root of the workflow it starts. */
    async spawn(job, token, data, template) {
      const step: StepData = data.kind === 'step' ? (data as StepData) : stepJobData<StepMeta>({}, carriedInput(data) as EncodedValue | RefCarried | undefined);
      return jobOutput(await startSpawn(job, token, step, template));
    },
  };
}

/** A child's index from its job key (`<prefix>:<queue>:<parent id>.<index>`); the spawned child `.s` is -1. */
function indexOf(job: Job, key: string): number {
  const index = childIndex(job.id ?? '', key.slice(key.lastIndexOf(':') + 1));
  return index === 's' ? -1 : index;
}

function removedChild(id: string): SerializedError {
  return { name: 'CancelledError', code: 'CANCELLED', reason: 'cancelled', message: `Step ${id} was removed before it finished` };
}

function keepOf(job: Job): KeepPolicy {
  const age = (option: unknown): number | undefined =>
    typeof option === 'object' && option !== null && typeof (option as { age?: unknown }).age === 'number' ? (option as { age: number }).age : undefined;
  // The parent's retention, else the client's defaults.
  return keepPolicy({
    ...(age(job.opts.removeOnComplete) !== undefined && { completedSeconds: age(job.opts.removeOnComplete) }),
    ...(age(job.opts.removeOnFail) !== undefined && { failedSeconds: age(job.opts.removeOnFail) }),
  });
}

/** True when BullMQ will not retry the job after this error. */
function isFinalFailure(job: Job, error: unknown): boolean {
  if (error instanceof WaitingChildrenError || (error as Error | undefined)?.name === 'WaitingError') return false;
  if (error instanceof UnrecoverableError) return true;
  return job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}
