import { performance } from 'node:perf_hooks';
import { UnrecoverableError, WaitingError, type FlowProducer, type Job } from 'bullmq';
import type { RedisClient } from '../redisConnection.ts';
import type { Logger } from 'pino';
import type { AnyTask } from '../defineTask.ts';
import { jobKey } from '../store/jobKeys.ts';
import { CANCELLED_BEFORE_START, countCrash, writeJobError } from '../store/jobError.ts';
import { serializeError, type FailureReason, type SerializedError } from '../serializeError.ts';
import { syncJobCounts } from '../store/taskCounts.ts';
import { SandboxUnavailableError } from '../errors.ts';
import { AttemptFailure, RunNotStarted } from './attemptFailure.ts';
import { ProgressCoalescer } from './progressCoalescer.ts';
import type { CancelBook } from './cancelBook.ts';
import type { Executor } from './inlineExecutor.ts';
import { carriedInput, jobOutput, readJobData } from '../store/jobData.ts';
import type { Ref } from '../objects/objectRef.ts';
import type { StepData } from '../workflow/stepTemplate.ts';
import type { RunInput, RunResult } from './runTask.ts';
import { createStalledFailures, overStallBudget } from './stalledFailure.ts';
import { createStepRunner } from './workflowStep.ts';

/** Limits applied to every attempt, from the worker's options. */
export interface AttemptLimits {
  /** Between the abort signal and SIGKILL. */
  killGraceMs: number;
  /** RSS cap of a sandbox while it runs a task, MiB. */
  maxRssMb?: number;
  /** Crashes (exit, signal, oom) of one job after which it fails for good as `quarantined`. */
  quarantineAfterCrashes: number;
  /** Stalls every job survives, whatever its attempts (see `overStallBudget`). */
  maxStalls: number;
}

/** What a processor shares with its worker. */
export interface ProcessorContext {
  tasks: ReadonlyMap<string, AnyTask>;
  /** Where the queue's jobs run: the sandbox pool, or the inline executor. */
  pool: Executor;
  redis: RedisClient;
  prefix: string;
  /** Adds the workflows that steps and handlers spawn. */
  flows: FlowProducer;
  logger: Logger;
  limits: AttemptLimits;
  /** The jobs held here and the cancels heard. */
  cancels: CancelBook;
  counts: { done: number; failed: number };
  /** True once the shutdown grace period is over: failures then put the job back to waiting. */
  requeueOnFailure: () => boolean;
  /** Told how long each task ran in its sandbox, ms (see prefetchGovernor.ts). */
  ran?: (ms: number) => void;
  /** Reads a step's child output stored by reference (see `workflowStep.ts`). */
  getObject?: (ref: Ref) => Promise<unknown>;
}

const CRASHES: ReadonlySet<FailureReason> = new Set(['exit', 'signal', 'killed', 'oom']);
const FINAL: ReadonlySet<FailureReason> = new Set(['invalid', 'cancelled', 'quarantined']);

/**
 * The BullMQ processor of a worker: runs each job in a sandbox and records how it ended. A workflow step
 * (see `workflowStep.ts`) first gathers its children's outputs; a handler may return `ctx.spawn(...)`.
 */
export function createJobProcessor(ctx: ProcessorContext): (job: Job, token?: string) => Promise<unknown> {
  const { tasks, pool, redis, prefix, limits } = ctx;
  const steps = createStepRunner(ctx);
  const stalled = createStalledFailures(ctx);
  const runAttempt = async (job: Job, token: string | undefined, input: RunInput): Promise<RunResult> => {
    const jobId = job.id ?? '';
    const key = jobKey(prefix, job.queueName, jobId);
    const attempt = job.attemptsMade + 1;
    const log = ctx.logger.child({ jobId, task: job.name, attempt });
    // A job whose lock is lost (see CancelBook.drop) runs again elsewhere: nothing of this attempt is written,
    // and BullMQ is not asked to move the job (a WaitingError).
    const dropIfLost = (): void => {
      if (!ctx.cancels.isDropped(jobId)) return;
      log.debug({ event: 'job:dropped' }, 'Lock lost: the outcome of this attempt is dropped');
      throw new WaitingError();
    };
    const fail = async (failure: SerializedError, durationMs: number, sandboxPid?: number): Promise<never> => {
      dropIfLost();
      await writeJobError(redis, key, failure);
      ctx.counts.failed++;
      log.warn({ event: 'job:fail', reason: failure.reason, durationMs, sandboxPid, err: failure }, failure.message);
      throw toBullError(failure);
    };

    const task = tasks.get(job.name);
    if (!task) {
      return fail({ ...serializeError(new Error(`Unknown task ${job.name}`)), code: 'UNKNOWN_TASK', reason: 'invalid' }, 0);
    }
    const cancelled = (): Promise<never> =>
      fail(CANCELLED_BEFORE_START, 0);
    // A cancel heard from now on is kept (see CancelBook): a job cancelled while it waits for a sandbox never runs.
    ctx.cancels.hold(jobId, key);
    let sandbox: Awaited<ReturnType<Executor['acquire']>>;
    try {
      sandbox = await pool.acquire();
    } catch (error) {
      ctx.cancels.release(jobId);
      if (error instanceof SandboxUnavailableError && token) {
        return requeue(ctx, { job, token, log }, { code: error.code }, `No sandbox can run the task: put back to waiting (${error.message})`);
      }
      throw error;
    }
    if (ctx.cancels.isCancelled(jobId)) {
      ctx.cancels.release(jobId);
      pool.release(sandbox);
      return cancelled();
    }
    const started = performance.now();
    const elapsed = (): number => Math.round(performance.now() - started);
    // At most 10 updates a second reach Redis; the last one before the job's completion or failure.
    const progress = new ProgressCoalescer({ send: (value) => job.updateProgress(value) });
    ctx.cancels.attach(jobId, sandbox);
    log.debug({ event: 'job:start', sandboxPid: sandbox.pid });
    try {
      const timeoutMs = (job.opts as { timeoutMs?: number }).timeoutMs ?? task.defaults.timeoutMs;
      const request = {
        task: job.name,
        queue: job.queueName,
        input,
        jobId,
        attempt,
        onProgress: (value: number | object) => progress.push(value),
        killGraceMs: limits.killGraceMs,
        ...(timeoutMs !== undefined && { timeoutMs }),
        ...(limits.maxRssMb !== undefined && { maxRssMb: limits.maxRssMb }),
      };
      let result: RunResult;
      try {
        result = (await sandbox.run(request)) as RunResult;
      } catch (error) {
        if (!(error instanceof RunNotStarted)) throw error;
        // Its sandbox failed holding several runs (see SandboxProcess): this one runs again at once, alone.
        log.debug({ event: 'job:rerun-alone', sandboxPid: sandbox.pid, cause: error.failure.message });
        pool.release(sandbox);
        sandbox = await pool.acquire({ solo: true });
        if (ctx.cancels.isCancelled(jobId)) throw new AttemptFailure(CANCELLED_BEFORE_START);
        ctx.cancels.attach(jobId, sandbox);
        result = (await sandbox.run(request).catch((again: unknown) => {
          throw again instanceof RunNotStarted ? new AttemptFailure(again.failure) : again;
        })) as RunResult;
      }
      // The handler's own time, as the sandbox measured it (decode to encode): what the governor sizes the
      // pipeline by (the time seen from here also counts the wait behind the runs sent before it).
      ctx.ran?.(('runMs' in result && result.runMs) || elapsed());
      await progress.flush();
      dropIfLost();
      ctx.counts.done++;
      log.debug({ event: 'job:done', durationMs: elapsed(), sandboxPid: sandbox.pid });
      return result;
    } catch (error) {
      ctx.ran?.(elapsed());
      await progress.flush();
      dropIfLost();
      let failure = error instanceof AttemptFailure ? error.serialized : { ...serializeError(error), reason: 'error' as const };
      if (ctx.requeueOnFailure() && token) {
        return requeue(ctx, { job, token, log }, { durationMs: elapsed() }, 'Shutdown grace period over: task put back to waiting');
      }
      failure = await quarantineIfCrashed(redis, key, failure, limits);
      return await fail(failure, elapsed(), sandbox.pid);
    } finally {
      ctx.cancels.release(jobId);
      pool.release(sandbox);
    }
  };
  // What a job is comes from its envelope (`jobData.ts`), never from the user's input inside it.
  return async (job, token) => {
    // A job back from a stall (its worker died or was cut off while it ran) runs again only within its budget.
    if (overStallBudget(job, limits.maxStalls)) return stalled.failOverBudget(job);
    const data = readJobData(job.data);
    if (!data) return unreadable(ctx, job);
    if (data.kind === 'step') return steps.run(job, token, data as StepData, (input) => runAttempt(job, token, { value: input }));
    const input: RunInput = { value: carriedInput(data)!, ...(data.kind === 'chunk' && { chunk: true }) };
    const result = await runAttempt(job, token, input);
    return 'spawn' in result ? steps.spawn(job, token, data, result.spawn) : jobOutput(result.output, result.runMs);
  };
}

/**
 * Gives a job back to waiting, its attempt not counted (no sandbox can start, or the shutdown grace is over),
 * places it in the per-task counts, and logs `job:requeued`.
 */
export async function requeue(ctx: Pick<ProcessorContext, 'redis' | 'prefix'>, held: { job: Job; token: string; log: Logger }, fields: object, message: string): Promise<never> {
  const { job, token, log } = held;
  await job.moveToWait(token);
  await syncJobCounts(ctx.redis, ctx.prefix, [{ queue: job.queueName, jobId: job.id ?? '', task: job.name }]).catch(() => undefined);
  log.warn({ event: 'job:requeued', ...fields }, message);
  throw new WaitingError();
}

/** A job whose data is not taskpool's envelope (e.g. queued by taskpool 0.1, or by hand): failed for good, never run. */
async function unreadable(ctx: ProcessorContext, job: Job): Promise<never> {
  const failure: SerializedError = {
    name: 'UnsupportedJobDataError',
    code: 'UNSUPPORTED_JOB_DATA',
    reason: 'invalid',
    message: `Job ${job.id} was not run: its data is not a taskpool job envelope ({ v: 1, input }), e.g. it was queued by taskpool 0.1 or by hand; submit it again`,
  };
  await writeJobError(ctx.redis, jobKey(ctx.prefix, job.queueName, job.id ?? ''), failure);
  ctx.counts.failed++;
  ctx.logger.warn({ event: 'job:fail', jobId: job.id, task: job.name, reason: failure.reason, err: failure }, failure.message);
  throw toBullError(failure);
}

/**
 * A crash (exit, signal, killed, oom) counts on the job (`tpCrashes`); at `quarantineAfterCrashes` the failure
 * becomes `quarantined` (never retried). Any other failure is given back as it is.
 */
export async function quarantineIfCrashed(redis: RedisClient, key: string, failure: SerializedError, limits: Pick<AttemptLimits, 'quarantineAfterCrashes'>): Promise<SerializedError> {
  if (!failure.reason || !CRASHES.has(failure.reason)) return failure;
  const crashes = await countCrash(redis, key);
  if (crashes < limits.quarantineAfterCrashes) return failure;
  return {
    name: 'QuarantinedError',
    code: 'QUARANTINED',
    reason: 'quarantined',
    message: `Quarantined: the task killed its sandbox process ${crashes} times (last: ${failure.message})`,
    cause: failure,
    fields: { crashes },
  };
}

/** True for a failure BullMQ never retries (invalid, cancelled, quarantined). */
export function isFinalReason(failure: SerializedError): boolean {
  return failure.reason !== undefined && FINAL.has(failure.reason);
}

/** The error BullMQ records: the remote message and stack; invalid, cancelled and quarantined jobs are never retried. */
export function toBullError(failure: SerializedError): Error {
  const final = isFinalReason(failure);
  const error = final ? new UnrecoverableError(failure.message) : new Error(failure.message);
  if (!final) error.name = failure.name;
  if (failure.stack) error.stack = failure.stack;
  return error;
}
