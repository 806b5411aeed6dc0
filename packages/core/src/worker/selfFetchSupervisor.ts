import { Job, Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { AnyTask } from '../defineTask.ts';
import type { RedisClient } from '../redisConnection.ts';
import type { SerializedError } from '../serializeError.ts';
import type { CountedFlowProducer } from '../store/countedQueue.ts';
import { writeJobError } from '../store/jobError.ts';
import { jobKey } from '../store/jobKeys.ts';
import { holdsLock, jobsLockedBy } from '../store/jobReads.ts';
import { syncJobCounts } from '../store/taskCounts.ts';
import type { AbortReason } from './attemptFailure.ts';
import type { CancelBook } from './cancelBook.ts';
import { countJobMoves, type CountedMoves } from './countJobMoves.ts';
import type { TaskSlot } from './inlineExecutor.ts';
import { isFinalReason, quarantineIfCrashed, requeue, toBullError, type AttemptLimits } from './jobProcessor.ts';
import type { PartitionGuard } from './partitionGuard.ts';
import type { SandboxPool } from './sandboxPool.ts';
import type { SandboxProcess } from './sandboxProcess.ts';
import type { HeldJob } from './sandboxProtocol.ts';
import { BULLMQ_MAX_STALLED_COUNT, createStalledFailures } from './stalledFailure.ts';
import { createStepRunner } from './workflowStep.ts';

/** What the supervisor of self-fetching sandboxes shares with its worker. */
export interface SelfFetchContext {
  tasks: ReadonlyMap<string, AnyTask>;
  /** taskpool's own calls. */
  redis: RedisClient;
  /** BullMQ's objects (see startWorker.ts: BullMQ's commands on a connection slow every pipeline made on it). */
  queueRedis: RedisClient;
  prefix: string;
  flows: CountedFlowProducer;
  logger: Logger;
  cancels: CancelBook;
  counts: { done: number; failed: number };
  limits: AttemptLimits;
  /** True once the shutdown grace period is over: a job whose sandbox is killed then goes back to waiting. */
  requeueOnFailure: () => boolean;
  /** The queues the sandboxes serve. */
  queues: readonly string[];
  workerId: string;
  lockDurationMs: number;
  stalledIntervalMs: number;
}

/** A failed renewal is taken as a lost lock only if the sandbox still holds the job this long after (its release may be on the way). */
const RELEASE_SLACK_MS = 250;

/**
 * The supervisor's side of `fetch: 'sandbox'`: the sandboxes fetch, run and record their jobs; this keeps only
 * what the supervisor alone can do, off each job's path. It hears of each job a sandbox takes (a message nothing
 * waits for) and renews its lock with the sandbox's token, one `extendLocks` per queue every quarter of the lock
 * (a sandbox busy in user code could not); it runs BullMQ's stalled check (one worker per queue that fetches
 * nothing); cancels heard abort the sandbox's job; and a sandbox that dies holding a job has it recorded here at
 * once (crash, timeout, cancel or memory cap; requeued once the shutdown grace is over), as the processor would.
 */
export class SelfFetchSupervisor {
  /** BullMQ workers that fetch nothing: the stalled check, lock renewal, and the jobs of dead sandboxes. */
  readonly workers: Worker[];
  private readonly byQueue = new Map<string, Worker>();
  private readonly moves: CountedMoves[] = [];
  private readonly held = new Map<string, { sandbox: SandboxProcess; job: HeldJob }>();
  private readonly recording = new Set<Promise<void>>();
  /** Jobs of dead sandboxes being recorded ({@link onLost}): {@link onDied} leaves them alone. */
  private readonly lost = new Set<string>();
  private readonly steps;
  private timer: NodeJS.Timeout | undefined;
  /** Set by the worker once its guard exists: renewals report contact and lost locks to it. */
  guard: PartitionGuard | undefined;
  /** Set by the worker once its pool exists: aborted and worn sandboxes are replaced after their job. */
  pool: SandboxPool | undefined;

  constructor(private readonly ctx: SelfFetchContext) {
    this.steps = createStepRunner(ctx);
    const stalled = createStalledFailures(ctx);
    this.workers = ctx.queues.map((queue) => {
      const worker = new Worker(queue, null, {
        connection: ctx.queueRedis,
        prefix: ctx.prefix,
        name: ctx.workerId,
        autorun: false,
        lockDuration: ctx.lockDurationMs,
        stalledInterval: ctx.stalledIntervalMs,
        maxStalledCount: BULLMQ_MAX_STALLED_COUNT,
      });
      this.moves.push(countJobMoves(worker, ctx));
      worker.on('error', (err) => this.guard?.workerError(err) || ctx.logger.error({ event: 'worker:error', err }, 'BullMQ worker error'));
      worker.on('failed', (job) => {
        stalled.recordDeferred(job).catch((err: unknown) => ctx.logger.error({ event: 'worker:error', err, jobId: job?.id }, 'Could not record a stalled job'));
      });
      this.byQueue.set(queue, worker);
      return worker;
    });
  }

  /** Starts the stalled checks and the lock renewals. */
  async start(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
    for (const worker of this.workers) {
      worker.startStalledCheckTimer().catch((err: unknown) => this.ctx.logger.error({ event: 'worker:error', err }, 'Could not start the stalled check'));
    }
    this.timer = setInterval(() => void this.renew(), Math.max(100, this.ctx.lockDurationMs / 4));
  }

  /** A sandbox took a job: renew its lock, and let cancels reach it. */
  onHeld(sandbox: SandboxProcess, job: HeldJob): void {
    this.held.set(job.jobId, { sandbox, job });
    this.ctx.cancels.track(job.jobId, jobKey(this.ctx.prefix, job.queue, job.jobId), this.slotOf(sandbox, job.jobId));
  }

  /** A sandbox recorded its job: count it, and replace the sandbox if it was aborted or is worn out. */
  onReleased(sandbox: SandboxProcess, job: HeldJob, outcome: 'done' | 'failed' | 'none'): void {
    this.held.delete(job.jobId);
    this.ctx.cancels.release(job.jobId);
    if (outcome === 'done') this.ctx.counts.done++;
    else if (outcome === 'failed') this.ctx.counts.failed++;
    this.pool?.afterJob(sandbox);
  }

  /** A sandbox died holding the job: record it now (see {@link settle}). */
  onLost(sandbox: SandboxProcess, job: HeldJob, failure: SerializedError): void {
    this.held.delete(job.jobId);
    this.lost.add(job.jobId);
    this.track(
      this.record(sandbox, job, failure).finally(() => {
        this.ctx.cancels.release(job.jobId);
        this.lost.delete(job.jobId);
      }),
      job.jobId,
    );
  }

  /**
   * A sandbox died: a job it fetched but never told of (it died between the fetch and its message) is found
   * by its lock token in the queues' `active` lists, and recorded as {@link onLost} records one.
   */
  onDied(sandbox: SandboxProcess, owners: readonly string[], failure: SerializedError): void {
    const found = Promise.all(
      this.ctx.queues.map(async (queue) => {
        for (const { jobId, token } of await jobsLockedBy(this.ctx.redis, this.ctx.prefix, queue, owners)) {
          if (this.held.has(jobId) || this.lost.has(jobId)) continue;
          await this.record(sandbox, { queue, jobId, token, task: '', attempt: 0, started: false }, failure);
        }
      }),
    ).then(() => undefined);
    this.track(found);
  }

  private track(recording: Promise<void>, jobId?: string): void {
    const recorded = recording
      .catch((err: unknown) => this.ctx.logger.error({ event: 'worker:error', err, jobId }, 'Could not record the job of a dead sandbox'))
      .finally(() => this.recording.delete(recorded));
    this.recording.add(recorded);
  }

  /** Waits (at most `ms`) for the jobs of dead sandboxes to be recorded; false (and how many are left) if some were not in time. */
  async settle(ms: number): Promise<{ settled: boolean; pending: number }> {
    let timer: NodeJS.Timeout | undefined;
    const settled = await Promise.race([
      Promise.all(this.recording).then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
    ]);
    clearTimeout(timer);
    return { settled, pending: this.recording.size };
  }

  /** Stops renewing and checking (the sandboxes are stopped by their pool). */
  async close(force = false): Promise<void> {
    clearInterval(this.timer);
    await Promise.all(this.workers.map((w) => w.close(force)));
    await Promise.all(this.moves.map((m) => m.flush()));
  }

  /** What a cancel (or the partition guard) aborts: the sandbox's job; a dropped job's sandbox is killed, nothing recorded. */
  private slotOf(sandbox: SandboxProcess, jobId: string): TaskSlot {
    return {
      pid: sandbox.pid,
      run: () => Promise.reject(new Error('A self-fetching sandbox runs only the jobs it takes')),
      abort: (reason: AbortReason) => {
        if (this.ctx.cancels.isDropped(jobId)) sandbox.kill();
        else sandbox.abortJob(jobId, reason);
      },
    };
  }

  /** Renews the locks of every job held, one call per queue; a lock that could not be renewed is lost. */
  private async renew(): Promise<void> {
    const perQueue = new Map<string, HeldJob[]>();
    for (const { job } of this.held.values()) perQueue.set(job.queue, [...(perQueue.get(job.queue) ?? []), job]);
    await Promise.all(
      [...perQueue].map(async ([queue, jobs]) => {
        try {
          const failed = await this.byQueue.get(queue)!.extendJobLocks(jobs.map((j) => j.jobId), jobs.map((j) => j.token), this.ctx.lockDurationMs);
          this.guard?.contact();
          for (const jobId of failed) {
            const token = jobs.find((j) => j.jobId === jobId)?.token;
            setTimeout(() => {
              if (this.held.get(jobId)?.job.token === token) this.guard?.workerError(new Error(`could not renew lock for job ${jobId}`));
            }, RELEASE_SLACK_MS).unref();
          }
        } catch (err) {
          if (!(err instanceof Error && this.guard?.workerError(err))) this.ctx.logger.warn({ event: 'worker:error', err }, 'Could not renew the locks of the sandboxes\' jobs');
        }
      }),
    );
  }

  /** Records the job of a sandbox that died holding it, as the processor records a failed attempt. */
  private async record(sandbox: SandboxProcess, held: HeldJob, failure: SerializedError): Promise<void> {
    const { ctx } = this;
    const { queue, jobId, token } = held;
    if (ctx.cancels.isDropped(jobId)) {
      ctx.logger.debug({ event: 'job:dropped', jobId }, 'Lock lost: the outcome of this attempt is dropped');
      return;
    }
    const key = jobKey(ctx.prefix, queue, jobId);
    // The sandbox recorded the job before it died (the lock goes with the record), or the lock lapsed.
    if (!(await holdsLock(ctx.redis, key, token))) return;
    const job = await Job.fromId(this.byQueue.get(queue)!, jobId);
    if (!job) return;
    const task = job.name;
    const log = ctx.logger.child({ jobId, task, attempt: job.attemptsMade + 1 });
    if (ctx.requeueOnFailure()) {
      await requeue(ctx, { job, token, log }, { sandboxPid: sandbox.pid }, 'Shutdown grace period over: task put back to waiting').catch(() => undefined);
      return;
    }
    const final = await quarantineIfCrashed(ctx.redis, key, failure, ctx.limits);
    await writeJobError(ctx.redis, key, final);
    ctx.counts.failed++;
    log.warn({ event: 'job:fail', reason: final.reason, sandboxPid: sandbox.pid, err: final }, final.message);
    const retried = !isFinalReason(final) && job.attemptsMade + 1 < (job.opts.attempts ?? 1);
    await job.moveToFailed(toBullError(final), token, false);
    await syncJobCounts(ctx.redis, ctx.prefix, [{ queue, jobId, task }]).catch(() => undefined);
    if (!retried) await this.steps.failedOutside(job, final);
  }
}
