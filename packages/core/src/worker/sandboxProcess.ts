import { once } from 'node:events';
import { HeldJobs } from './heldJobs.ts';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { SerializedError } from '../serializeError.ts';
import { abortedError, AttemptFailure, type AbortReason } from './attemptFailure.ts';
import { SandboxRuns, type SandboxRequest, type StartedRun } from './sandboxRuns.ts';
import { MessageBatcher, unbatch, type MessageBatch } from './messageBatcher.ts';
import { classifyExit } from './classifyExit.ts';
import { forkSandbox, startSandboxThread, type SandboxChannel } from './sandboxChannel.ts';
import { logSandboxOutput } from './sandboxOutput.ts';
import { NO_OBJECTS, type FromSandbox, type HeldJob, type SandboxSettings, type ServeConfig, type ToSandbox } from './sandboxProtocol.ts';
import { serveObject, type ObjectCache } from './objectCache.ts';
const STDERR_TAIL_BYTES = 8_192;
/** After a sandbox's IPC channel closes, how long it has to exit before it is taken as unreachable. */
const DISCONNECT_GRACE_MS = 1_000;
/** How often the RSS of a sandbox running a task is read (`/proc/<pid>/statm`, a few µs). */
export const RSS_SAMPLE_MS = 50;

/** How to start a sandbox process. */
export interface SandboxOptions {
  /** Absolute path of the user's task module. */
  modulePath: string;
  logger: Logger;
  /** Extra Node flags, e.g. `--max-old-space-size=128`. Default: none. */
  execArgv?: string[];
  /** The Node binary of sandbox processes. Default: the worker's own. */
  execPath?: string;
  /** How long the module import and `setup()` may take. Default: 60 000 ms. */
  startTimeoutMs?: number;
  /** `process` (a child process) or `thread` (a worker thread of the worker). Default: `process`. */
  isolation?: 'process' | 'thread';
  /** For threads: V8 heap cap (`resourceLimits.maxOldGenerationSizeMb`). */
  maxMemoryMb?: number;
  /** The sandbox takes its own jobs from Redis (`fetch: 'sandbox'`); the supervisor only watches. Default: it runs what it is sent. */
  selfFetch?: SelfFetch;
  /** Where the objects its handlers ask for (`ctx.get`) are fetched to, once per machine. Default: none (they fail). */
  objects?: ObjectCache;
}

/** How a supervisor watches sandboxes that take their own jobs. */
export interface SelfFetch {
  config: ServeConfig;
  /** Between the abort (timeout, cancel) and SIGKILL. */
  killGraceMs: number;
  /** RSS cap while a job runs, MiB: over it the process is SIGKILLed at once (`oom`). */
  maxRssMb?: number;
  /** The sandbox took a job (renew its lock, hear its cancels). */
  onHeld(sandbox: SandboxProcess, job: HeldJob): void;
  /** The sandbox recorded the job's outcome (or gave it back). */
  onReleased(sandbox: SandboxProcess, job: HeldJob, outcome: 'done' | 'failed' | 'none'): void;
  /** The process died holding the job, which is still to be recorded: `failure` says how. */
  onLost(sandbox: SandboxProcess, job: HeldJob, failure: SerializedError): void;
  /**
   * The process died (after `onLost` for each job it told of): jobs locked by `lockOwners` that it never told of
   * (it died between its fetch and its message) are to be found in Redis and recorded with `failure`.
   */
  onDied(sandbox: SandboxProcess, lockOwners: readonly string[], failure: SerializedError): void;
}

export type { SandboxRequest } from './sandboxRuns.ts';

/** Why the supervisor stopped a running task. */
export type { AbortReason };

/**
 * A supervised child process (or thread) that runs one task at a time. Its pool may send it several runs at
 * once while tasks are short (`SandboxPool.depth`): the sandbox runs them in order and answers each as it ends,
 * and the runs sent in one turn share a write (messageBatcher.ts). Limits apply to the run at the head, which is
 * the one running. A death while the sandbox holds several runs is blamed on none of them (the head's answer
 * may have been on its way): each one the supervisor did not stop is rejected with `RunNotStarted` and
 * runs again alone, where a fault is its own.
 */
export class SandboxProcess {
  /** Tasks this process has run. */
  tasksRun = 0;
  /** The runs sent, in order: the first one runs, the others wait behind it in the sandbox. */
  private readonly runs: SandboxRuns;
  /** What is sent in one turn leaves in one write. */
  private readonly outbox: MessageBatcher<ToSandbox>;
  private stderrTail = '';
  private fatal: SerializedError | undefined;
  private exited = false;
  /** Set once the supervisor has sent a signal: a SIGKILL it did not send came from outside. */
  private signalSent: NodeJS.Signals | undefined;
  /** The job of the latest run: the handler's output lines are tagged with it (output may trail the run's end). */
  private lastRun: { jobId: string; task: string } | undefined;
  private readonly exitPromise: Promise<void>;
  /** Self-fetching: the jobs the sandbox holds (one runs; a sandbox of several queues may hold one more per queue). */
  private readonly held: HeldJobs;
  private drained: (() => void) | undefined;
  /** Self-fetching: the ids its jobs' lock tokens start with (see `onDied`). */
  private lockOwners: string[] = [];
  /** Set once the channel failed: what the jobs a self-fetching sandbox held died of. */
  private unreachable: SerializedError | undefined;

  private constructor(
    private readonly child: SandboxChannel,
    readonly pid: number,
    private readonly logger: Logger,
    private readonly selfFetch?: SelfFetch,
    private readonly objects?: ObjectCache,
  ) {
    this.held = new HeldJobs(
      {
        pid,
        logger,
        took: (job) => selfFetch?.onHeld(this, job),
        began: (job) => {
          this.tasksRun++;
          this.lastRun = { jobId: job.jobId, task: job.task };
        },
        released: (job, outcome) => selfFetch?.onReleased(this, job, outcome),
        sendAbort: (jobId, reason) => this.send({ type: 'abort-job', jobId, reason }),
        retire: () => (this.retireAfterRun = true),
        kill: () => this.kill(),
      },
      { killGraceMs: selfFetch?.killGraceMs ?? 1_000, sampleMs: RSS_SAMPLE_MS, ...(selfFetch?.maxRssMb !== undefined && { maxRssMb: selfFetch.maxRssMb }) },
    );
    this.outbox = new MessageBatcher<ToSandbox>((message) => this.sendNow(message));
    this.runs = new SandboxRuns(
      {
        pid,
        logger,
        send: (message) => this.send(message),
        kill: () => this.kill(),
        retire: () => (this.retireAfterRun = true),
        began: (run) => (this.lastRun = { jobId: run.jobId, task: run.task }),
      },
      RSS_SAMPLE_MS,
    );
    this.exitPromise = once(child, 'exit').then(() => undefined);
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
    });
    logSandboxOutput(child.stdout, 'sandbox:stdout', logger, () => this.lastRun);
    logSandboxOutput(child.stderr, 'sandbox:stderr', logger, () => this.lastRun);
    child.on('error', (error: Error) => this.onChannelError(error));
    // A channel closed by a live process (the handler called process.disconnect()) can never bring the
    // task's answer: past a moment for the exit that usually follows, the run fails and the process goes.
    child.on('disconnect', () => {
      const timer = setTimeout(() => {
        if (!this.exited) this.onChannelError(Object.assign(new Error('the IPC channel closed while the process lives on'), { code: 'ERR_IPC_CHANNEL_CLOSED' }));
      }, DISCONNECT_GRACE_MS);
      void this.exitPromise.then(() => clearTimeout(timer));
    });
    child.on('message', (message: FromSandbox | MessageBatch<FromSandbox>) => {
      for (const one of unbatch(message)) this.onMessage(one);
    });
    child.on('thread-error', (text: string) => {
      this.stderrTail = (this.stderrTail + text).slice(-STDERR_TAIL_BYTES);
    });
    child.on('exit', (code, signal) => this.onExit(code, signal));
  }

  /** Forks a sandbox and waits until its task module is loaded and `setup()` has run. */
  static async start(options: SandboxOptions): Promise<SandboxProcess> {
    const settings: SandboxSettings = { objects: options.objects?.sandboxSettings() ?? NO_OBJECTS };
    const child =
      options.isolation === 'thread'
        ? startSandboxThread(options.modulePath, settings, options.maxMemoryMb)
        : await forkSandbox(options.modulePath, settings, { execArgv: options.execArgv ?? [], ...(options.execPath !== undefined && { execPath: options.execPath }) });
    const pid = child.pid;
    const sandbox = new SandboxProcess(child, pid, options.logger.child({ sandboxPid: pid }), options.selfFetch, options.objects);
    await sandbox.waitReady(options.startTimeoutMs ?? 60_000);
    return sandbox;
  }

  /** False once the process has exited. */
  get alive(): boolean {
    return !this.exited;
  }

  /** True while a task runs (or, self-fetching, while the sandbox holds a job). */
  get busy(): boolean {
    return this.runs.size > 0 || this.held.size > 0;
  }

  /** Self-fetching: tells the sandbox to take jobs from Redis itself. */
  serve(): void {
    if (this.selfFetch) this.send({ type: 'serve', config: this.selfFetch.config });
  }

  /** Self-fetching: the sandbox takes no more jobs; resolves once those it holds are recorded, or it exited. */
  drain(): Promise<void> {
    if (this.exited) return Promise.resolve();
    const drained = new Promise<void>((resolve) => (this.drained = resolve));
    this.send({ type: 'drain' });
    return Promise.race([drained, this.exitPromise]);
  }

  /** The jobs a self-fetching sandbox holds. */
  get heldJobs(): HeldJob[] {
    return this.held.jobs;
  }

  /**
   * Self-fetching: stops a job the sandbox holds, as `abortRun` a run: the sandbox fires the handler's signal
   * and records the failure (`reason`), and takes no more jobs; `graceMs` later the process is SIGKILLed if it
   * still holds the job (then the supervisor records it). Over the memory cap (`oom`), at once.
   */
  abortJob(jobId: string, reason: AbortReason, graceMs?: number): void {
    this.held.abort(jobId, reason, graceMs);
  }

  /**
   * Sends a run. It starts at once if the sandbox runs nothing, else after the runs sent before it. The outcome
   * rejects with an {@link AttemptFailure} if the handler fails or the process dies while it runs alone, and
   * with `RunNotStarted` if the process died while it held several runs.
   */
  start(request: SandboxRequest): StartedRun {
    if (this.exited) return { runId: 0, outcome: Promise.reject(new Error(`Sandbox ${this.pid} has exited`)) };
    this.tasksRun++;
    return this.runs.start(request);
  }

  /** Stops a run (see `SandboxRuns.abort`): its signal fires; SIGKILL `graceMs` after it started unless it gave up. */
  abortRun(runId: number, reason: AbortReason, graceMs?: number): void {
    this.runs.abort(runId, reason, graceMs);
  }

  /** The job id of the running task, if any. */
  get runningJobId(): string | undefined {
    return this.runs.head?.jobId ?? this.held.running()?.job.jobId;
  }

  /** The name of the running task, if any. */
  get runningTask(): string | undefined {
    return this.runs.head?.task ?? this.held.running()?.job.task;
  }


  /** True once the process should not take another task (aborted run, recycling). */
  retireAfterRun = false;

  /** Asks the process to run `teardown()` and exit; kills it after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.exited) return;
    this.send({ type: 'shutdown' });
    const timer = setTimeout(() => this.kill(), graceMs);
    await this.exitPromise;
    clearTimeout(timer);
  }

  /** SIGKILLs the process at once. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.exited) return;
    this.signalSent = signal;
    this.child.kill(signal);
  }

  /** Resolves when the process has exited. */
  exited$(): Promise<void> {
    return this.exitPromise;
  }

  /** Sends a message with the others of this turn; one that cannot be sent fails the running task (see {@link onChannelError}). */
  private send(message: ToSandbox): void {
    this.outbox.send(message);
  }

  private sendNow(message: ToSandbox | MessageBatch<ToSandbox>): void {
    if (this.child.connected) this.child.send(message as ToSandbox, (error) => this.onChannelError(error));
  }

  /**
   * A send that failed, or an `error` event of the child (a failed kill or send): the channel can't be
   * trusted any more. The running task fails (reason `exit`, code `SANDBOX_UNREACHABLE`) and the process is
   * killed, so the pool replaces it.
   */
  private onChannelError(error: Error): void {
    this.logger.error({ event: 'sandbox:error', err: error, jobId: this.runningJobId }, `Sandbox channel error: ${error.message}`);
    const unreachable: SerializedError = {
      name: 'SandboxCrashError',
      code: 'SANDBOX_UNREACHABLE',
      reason: 'exit',
      message: `Lost contact with sandbox process ${this.pid}: ${error.message}`,
      fields: { pid: this.pid },
      cause: { name: error.name, message: error.message, ...((error as { code?: string }).code !== undefined && { code: String((error as { code?: string }).code) }) },
    };
    // Self-fetching: the jobs it holds are recorded with this error once it has exited.
    this.unreachable ??= unreachable;
    this.runs.unreachable(unreachable);
    this.kill();
  }

  private waitReady(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        this.kill();
        reject(new Error(`Sandbox ${this.pid} did not get ready within ${timeoutMs} ms`));
      }, timeoutMs);
      const onMessage = (message: FromSandbox): void => {
        if (message.type === 'ready') {
          cleanup();
          resolve();
        } else if (message.type === 'setup-failed') {
          cleanup();
          reject(new AttemptFailure({ ...message.error, message: `Task module setup failed: ${message.error.message}` }));
        }
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
        cleanup();
        // A signal the supervisor did not send (kill -9, an orchestrator, the OOM killer) is no fault of the
        // task module's setup(): the pool starts another at once instead of backing off.
        if (signal !== null && this.signalSent === undefined) reject(new SandboxStartKilled(this.pid, signal));
        else reject(new Error(`Sandbox ${this.pid} exited during start (code ${code}, signal ${signal}): ${this.stderrTail.slice(-2_000)}`));
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
      };
      this.child.on('message', onMessage);
      this.child.on('exit', onExit);
    });
  }

  private onMessage(message: FromSandbox): void {
    switch (message.type) {
      case 'done':
        this.runs.done(message.runId, message.output);
        break;
      case 'failed':
        this.runs.failed(message.runId, message.error);
        break;
      case 'progress':
        this.runs.progress(message.runId, message.value);
        break;
      case 'fatal':
        this.fatal = message.error;
        break;
      case 'job': {
        const { type: _type, releases, ...job } = message;
        if (releases) this.held.onReleased(releases.jobId, releases.outcome);
        // Only a self-fetching sandbox holds jobs of its own.
        if (this.selfFetch) this.held.onHeld(job);
        break;
      }
      case 'released':
        this.held.onReleased(message.jobId, message.outcome);
        break;
      case 'drained':
        this.drained?.();
        break;
      case 'serving':
        this.lockOwners = message.lockOwners;
        break;
      case 'log':
        this.logger[message.level](message.record, message.msg);
        break;
      case 'object':
      case 'object-put':
        void serveObject(this.objects, message, (jobId) => this.queueOf(jobId)).then((reply) => this.send(reply));
        break;
      default:
        break;
    }
  }

  /** The queue of a job this sandbox runs or holds (whose `ctx.put` it serves). */
  private queueOf(jobId: string): string | undefined {
    return this.runs.queueOf(jobId) ?? this.held.queueOf(jobId);
  }

  /** How the process's death reads, for the job it ran. */
  private crashOf(code: number | null, signal: NodeJS.Signals | null): SerializedError {
    return classifyExit({
        pid: this.pid,
        code,
        signal,
        stderrTail: this.stderrTail,
        ...(this.fatal && { fatal: this.fatal }),
        ...(this.signalSent && { signalSent: this.signalSent }),
      });
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.exited = true;
    const holding = this.runs.size > 0;
    this.runs.exited(() => this.crashOf(code, signal), { code, signal });
    if (!holding && this.held.size === 0) this.logger.debug({ event: 'sandbox:exit', code, signal });
    this.held.drain((watched) => {
      const crash = this.unreachable ?? this.crashOf(code, signal);
      const error = watched.aborted ? { ...abortedError(watched.aborted, this.pid), cause: crash } : crash;
      const { jobId, task } = watched.job;
      this.logger.warn({ event: 'sandbox:crash', jobId, task, code, signal, reason: error.reason, errorCode: error.code, durationMs: Math.round(performance.now() - watched.startedAt) }, error.message);
      this.selfFetch?.onLost(this, watched.job, error);
    });
    if (this.lockOwners.length > 0) this.selfFetch?.onDied(this, this.lockOwners, this.unreachable ?? this.crashOf(code, signal));
  }
}

/**
 * A sandbox's start ended by a signal from outside (not by its module's error or exit, nor by the supervisor):
 * internal to the pool, which restarts at once instead of counting a start failure.
 */
export class SandboxStartKilled extends Error {
  override name = 'SandboxStartKilled';
  constructor(
    readonly pid: number,
    readonly signal: NodeJS.Signals,
  ) {
    super(`Sandbox ${pid} was killed by ${signal} (from outside) while it started`);
  }
}
