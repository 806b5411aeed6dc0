/**
 * The job loop of a sandbox that takes its own jobs (`fetch: 'sandbox'`): loaded by `sandboxMain.ts` only in
 * that mode, so that a sandbox of the default mode never loads BullMQ or ioredis. One BullMQ `Worker` per
 * queue (concurrency 1) on a connection of the sandbox's own fetches, runs and records each job here, with the
 * same bookkeeping as the supervisor's processor (`jobProcessor.ts`: cancel flag, counts, errors, workflow
 * steps, progress). The supervisor stays off the path: it hears of each job in a message nothing waits for,
 * renews its lock (a handler busy on the CPU would starve the sandbox's own renewal), and enforces timeouts,
 * memory caps and cancels by killing, recording the job itself if the process dies holding it.
 */
import { Worker, type Job } from 'bullmq';
import type { AnyTask } from '../defineTask.ts';
import type { TaskModule } from '../loadTaskModule.ts';
import { createRedisConnection } from '../redisConnection.ts';
import { CountedFlowProducer } from '../store/countedQueue.ts';
import { abortedError, AttemptFailure, type AbortReason } from './attemptFailure.ts';
import { CancelBook } from './cancelBook.ts';
import { countJobMoves, type CountedMoves } from './countJobMoves.ts';
import type { Executor, TaskObjects, TaskSlot } from './inlineExecutor.ts';
import { LazySignal, runHere } from './inlineExecutor.ts';
import { createJobProcessor } from './jobProcessor.ts';
import { createSandboxLogger } from './sandboxLogger.ts';
import type { SandboxRequest } from './sandboxProcess.ts';
import type { FromSandbox, HeldJob, Released, ServeConfig } from './sandboxProtocol.ts';
import { BULLMQ_MAX_STALLED_COUNT, createStalledFailures } from './stalledFailure.ts';

/** How long a job's `released` waits for the next job's `job` message to carry it, ms. */
const RELEASE_WAIT_MS = 2;

/** How long closing waits for the last Redis calls (quitting), ms: Redis may be gone. */
const CLOSE_REDIS_MS = 400;

/** What `sandboxMain` drives. */
export interface JobLoop {
  /** The supervisor stops a job (timeout, cancel): its signal fires, its failure is recorded, and no job is taken after it. */
  abort(jobId: string, reason: 'timeout' | 'cancelled'): void;
  /** Takes no more jobs; resolves once the jobs held are recorded. */
  drain(): Promise<void>;
  /** Drains, then closes the connection. */
  close(): Promise<void>;
}

/** Starts fetching. */
export async function serveJobs(mod: TaskModule, config: ServeConfig, send: (message: FromSandbox) => void, objects: TaskObjects): Promise<JobLoop> {
  // The supervisor writes its lines with its logger for this sandbox (component, workerId, sandboxPid bound there).
  const logger = createSandboxLogger(send, config.logLevel);
  // taskpool's own calls and BullMQ's objects use a connection each (why: see startWorker.ts).
  const redis = createRedisConnection(config.redisUrl, 'worker', logger);
  const queueRedis = createRedisConnection(config.redisUrl, 'worker', logger);
  const { prefix } = config;
  const flows = new CountedFlowProducer({ connection: queueRedis, counts: redis, prefix });
  flows.on('error', (err) => logger.error({ event: 'worker:error', err }, 'BullMQ flow producer error'));
  const cancels = new CancelBook(redis, logger);
  const counts = { done: 0, failed: 0 };
  const slot = new OwnSlot(mod.tasks, objects);
  const processor = createJobProcessor({
    tasks: mod.tasks,
    pool: slot,
    redis,
    prefix,
    flows,
    logger,
    cancels,
    counts,
    requeueOnFailure: () => false,
    getObject: (ref) => objects.get(ref),
    // The supervisor enforces the timeout, the kill grace and the memory cap: only the bookkeeping's limits here.
    limits: { killGraceMs: 0, quarantineAfterCrashes: config.quarantineAfterCrashes, maxStalls: config.maxStalls },
  });
  const workers: Worker[] = [];
  const moves: CountedMoves[] = [];
  let retiring = false;
  let taken = 0;
  const retire = (): Promise<unknown> => {
    retiring = true;
    // Closing stops fetching; BullMQ records the job held without fetching the next one.
    return Promise.all(workers.map((w) => w.close()));
  };
  // One job runs at a time; a sandbox serving several queues may hold one more per queue, waiting here.
  let gate: Promise<void> = Promise.resolve();
  let inside = 0;
  // A job's `released` waits a moment for the next job's `job` message to carry it (one IPC message per job under load).
  let unsent: Released | undefined;
  let releaseTimer: NodeJS.Timeout | undefined;
  const takeUnsent = (): Released | undefined => {
    const released = unsent;
    unsent = undefined;
    clearTimeout(releaseTimer);
    return released;
  };
  const sendUnsent = (): void => {
    const released = takeUnsent();
    if (released) send({ type: 'released', ...released });
  };
  const run = async (job: Job, token?: string): Promise<unknown> => {
    const timeoutMs = (job.opts as { timeoutMs?: number }).timeoutMs ?? mod.tasks.get(job.name)?.defaults.timeoutMs;
    const held: HeldJob = {
      queue: job.queueName,
      jobId: job.id ?? '',
      task: job.name,
      token: token ?? '',
      attempt: job.attemptsMade + 1,
      ...(timeoutMs !== undefined && { timeoutMs }),
      started: inside === 0,
    };
    const releases = takeUnsent();
    send({ type: 'job', ...held, ...(releases && { releases }) });
    inside++;
    const previous = gate;
    let open!: () => void;
    gate = new Promise((resolve) => (open = resolve));
    await previous;
    if (!held.started) send({ type: 'job', ...held, started: true });
    const before = counts.done + 2 * counts.failed;
    try {
      return await processor(job, token);
    } finally {
      cancels.release(held.jobId);
      inside--;
      open();
      const after = counts.done + 2 * counts.failed;
      sendUnsent();
      unsent = { jobId: held.jobId, outcome: after === before ? 'none' : after - before === 1 ? 'done' : 'failed' };
      // BullMQ records the job and fetches the next in one round trip after this returns: well within the wait.
      releaseTimer = setTimeout(sendUnsent, RELEASE_WAIT_MS);
      if (config.maxTasks !== undefined && ++taken >= config.maxTasks && !retiring) void retire();
    }
  };
  const stalled = createStalledFailures({ tasks: mod.tasks, redis, prefix, flows, logger, counts });
  for (const queue of config.queues) {
    const limiter = config.limiters[queue];
    const worker = new Worker(queue, run, {
      connection: queueRedis,
      prefix,
      concurrency: 1,
      name: config.workerId,
      lockDuration: config.lockDurationMs,
      // The supervisor renews the locks and runs the stalled check.
      skipLockRenewal: true,
      skipStalledCheck: true,
      maxStalledCount: BULLMQ_MAX_STALLED_COUNT,
      ...(limiter && { limiter: { max: limiter.max, duration: limiter.durationMs } }),
    });
    moves.push(countJobMoves(worker, { redis, prefix, logger }));
    worker.on('error', (err) => {
      const lost = /^(?:Missing lock|Lock mismatch) for job (.+?)\. /.exec(err.message);
      if (lost) logger.warn({ event: 'job:lock-lost', jobId: lost[1], via: 'redis', detail: err.message }, `Job ${lost[1]}: its lock was lost; it runs elsewhere, the outcome here is dropped`);
      else logger.error({ event: 'worker:error', err }, 'BullMQ worker error');
    });
    worker.on('failed', (job) => {
      stalled.recordDeferred(job).catch((err: unknown) => logger.error({ event: 'worker:error', err, jobId: job?.id }, 'Could not record a stalled job'));
    });
    workers.push(worker);
  }
  // Its supervisor finds the jobs it held by their lock tokens if it dies before telling of them.
  send({ type: 'serving', lockOwners: workers.map((w) => w.id) });
  let draining: Promise<void> | undefined;
  const drain = (): Promise<void> =>
    (draining ??= retire()
      .then(sendUnsent)
      .then(() => Promise.all(moves.map((m) => m.flush())))
      .then(() => undefined));
  return {
    abort(jobId, reason) {
      if (slot.runs(jobId)) {
        void retire();
        slot.abort(reason);
      } else if (reason === 'cancelled') {
        // Held, waiting for the slot: the processor fails it as cancelled before it runs.
        cancels.cancel(jobId, 'message');
      }
    },
    drain,
    async close() {
      // Jobs held finish first (one fetched by the last finish starts a moment later); an idle loop whose drain
      // does not settle soon does not wait for Redis, which may be gone.
      const drained = drain();
      let timer: NodeJS.Timeout | undefined;
      const settled = await Promise.race([drained.then(() => true), new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), CLOSE_REDIS_MS)))]);
      clearTimeout(timer);
      if (!settled && inside > 0) await drained;
      const quit = Promise.all([flows.close(), redis.quit(), queueRedis.quit()]).catch(() => undefined);
      await Promise.race([quit, new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_REDIS_MS)))]);
      clearTimeout(timer);
      redis.disconnect();
      queueRedis.disconnect();
    },
  };
}

/**
 * The one slot of a self-fetching sandbox: runs a task here, on this process's event loop. The supervisor
 * owns the limits: its `abort-job` fires the handler's signal and fails the attempt at once (the process then
 * takes no more jobs and is killed after the grace), and it kills a handler that does not give up.
 */
class OwnSlot implements TaskSlot, Executor {
  readonly pid = process.pid;
  private current: { jobId: string; abortion: LazySignal; fail: (reason: AbortReason) => void } | undefined;

  constructor(
    private readonly tasks: ReadonlyMap<string, AnyTask>,
    private readonly objects: TaskObjects,
  ) {}

  runs(jobId: string): boolean {
    return this.current?.jobId === jobId;
  }

  acquire(): Promise<TaskSlot> {
    return Promise.resolve(this);
  }

  release(): void {}

  run(request: SandboxRequest): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const abortion = new LazySignal();
      const current = {
        jobId: request.jobId,
        abortion,
        fail: (reason: AbortReason) => reject(new AttemptFailure(abortedError(reason, this.pid))),
      };
      this.current = current;
      const done = (): boolean => {
        if (this.current !== current) return false;
        this.current = undefined;
        return !abortion.aborted;
      };
      runHere(this.tasks, request, abortion, this.objects).then(
        (outcome) => {
          if (!done()) return;
          if (outcome.ok) resolve(outcome.result);
          else reject(new AttemptFailure(outcome.error));
        },
        (error: unknown) => {
          if (done()) reject(error);
        },
      );
    });
  }

  abort(reason: AbortReason): void {
    const current = this.current;
    if (!current || current.abortion.aborted) return;
    current.abortion.abort(reason);
    this.current = undefined;
    current.fail(reason);
  }
}

