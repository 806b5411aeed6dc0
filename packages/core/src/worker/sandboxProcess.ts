import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { SerializedError } from '../serializeError.ts';
import { AttemptFailure } from './attemptFailure.ts';
import { classifyExit } from './classifyExit.ts';
import { forkSandbox, startSandboxThread, type SandboxChannel } from './sandboxChannel.ts';
import type { RunInput } from './runTask.ts';
import type { FromSandbox, ToSandbox } from './sandboxProtocol.ts';
const STDERR_TAIL_BYTES = 8_192;

/** How to start a sandbox process. */
export interface SandboxOptions {
  /** Absolute path of the user's task module. */
  modulePath: string;
  logger: Logger;
  /** Extra Node flags, e.g. `--max-old-space-size=128`. Default: none. */
  execArgv?: string[];
  /** How long the module import and `setup()` may take. Default: 60 000 ms. */
  startTimeoutMs?: number;
  /** `process` (a child process) or `thread` (a worker thread of the worker). Default: `process`. */
  isolation?: 'process' | 'thread';
  /** For threads: V8 heap cap (`resourceLimits.maxOldGenerationSizeMb`). */
  maxMemoryMb?: number;
}

/** One task to run in a sandbox. */
export interface SandboxRequest {
  task: string;
  input: RunInput;
  jobId: string;
  attempt: number;
  onProgress?: (value: number | object) => void;
  /** Hard limit: the handler's signal fires, and `killGraceMs` later the process is SIGKILLed. Default: none. */
  timeoutMs?: number;
  /** Between the abort signal and SIGKILL (timeouts and cancels). Default: 1000 ms. */
  killGraceMs?: number;
  /** RSS cap of the process while the task runs, sampled every 100 ms; over it the process is killed (`oom`). */
  maxRssMb?: number;
}

/** Why the supervisor stopped a running task. */
export type AbortReason = 'timeout' | 'cancelled' | 'oom';

interface Running {
  runId: number;
  jobId: string;
  task: string;
  /** Set once the supervisor has aborted the run: it decides the failure's reason. */
  aborted?: AbortReason;
  timers: NodeJS.Timeout[];
  resolve: (output: unknown) => void;
  reject: (error: AttemptFailure) => void;
  onProgress?: (value: number | object) => void;
}

/** A supervised child process that runs one task at a time. */
export class SandboxProcess {
  /** Tasks this process has run. */
  tasksRun = 0;
  private running: Running | undefined;
  private nextRunId = 1;
  private stderrTail = '';
  private fatal: SerializedError | undefined;
  private exited = false;
  private readonly exitPromise: Promise<void>;

  private constructor(
    private readonly child: SandboxChannel,
    readonly pid: number,
    private readonly logger: Logger,
  ) {
    this.exitPromise = once(child, 'exit').then(() => undefined);
    child.stderr?.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
    });
    child.on('message', (message: FromSandbox) => this.onMessage(message));
    child.on('thread-error', (text: string) => {
      this.stderrTail = (this.stderrTail + text).slice(-STDERR_TAIL_BYTES);
    });
    child.on('exit', (code, signal) => this.onExit(code, signal));
  }

  /** Forks a sandbox and waits until its task module is loaded and `setup()` has run. */
  static async start(options: SandboxOptions): Promise<SandboxProcess> {
    const child =
      options.isolation === 'thread' ? startSandboxThread(options.modulePath, options.maxMemoryMb) : forkSandbox(options.modulePath, options.execArgv ?? []);
    const pid = child.pid;
    const sandbox = new SandboxProcess(child, pid, options.logger.child({ sandboxPid: pid }));
    await sandbox.waitReady(options.startTimeoutMs ?? 60_000);
    return sandbox;
  }

  /** False once the process has exited. */
  get alive(): boolean {
    return !this.exited;
  }

  /** True while a task runs. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Runs one task; rejects with an {@link AttemptFailure} if the handler fails or the process dies. */
  run(request: SandboxRequest): Promise<unknown> {
    if (this.running) return Promise.reject(new Error(`Sandbox ${this.pid} is busy`));
    if (this.exited) return Promise.reject(new Error(`Sandbox ${this.pid} has exited`));
    const runId = this.nextRunId++;
    this.tasksRun++;
    return new Promise((resolve, reject) => {
      const running: Running = { runId, jobId: request.jobId, task: request.task, resolve, reject, timers: [], ...(request.onProgress && { onProgress: request.onProgress }) };
      this.running = running;
      this.killGraceMs = request.killGraceMs ?? 1_000;
      if (request.timeoutMs !== undefined) {
        running.timers.push(setTimeout(() => this.abort('timeout'), request.timeoutMs));
      }
      if (request.maxRssMb !== undefined) {
        const cap = request.maxRssMb;
        running.timers.push(
          setInterval(() => {
            const rss = readRssMb(this.pid);
            if (rss !== undefined && rss > cap) {
              this.logger.warn({ event: 'sandbox:over-memory', rssMb: Math.round(rss), maxRssMb: cap });
              this.abort('oom', 0);
            }
          }, 100),
        );
      }
      this.send({ type: 'run', runId, task: request.task, input: request.input, jobId: request.jobId, attempt: request.attempt });
    });
  }

  /**
   * Stops the running task: its handler's signal fires at once, and the process is SIGKILLed `graceMs`
   * later unless the handler has given up by then. The run fails with `reason` as its failure reason.
   */
  abort(reason: AbortReason, graceMs = this.killGraceMs): void {
    const running = this.running;
    if (!running || running.aborted) return;
    running.aborted = reason;
    if (reason !== 'oom') this.send({ type: 'abort', runId: running.runId, reason: reason === 'cancelled' ? 'cancelled' : 'timeout' });
    // Even a handler that honours the signal leaves its process suspect (timers, sockets): kill it anyway.
    running.timers.push(setTimeout(() => this.kill(), graceMs));
    this.retireAfterRun = true;
  }

  /** The job id of the running task, if any. */
  get runningJobId(): string | undefined {
    return this.running?.jobId;
  }

  /** The name of the running task, if any. */
  get runningTask(): string | undefined {
    return this.running?.task;
  }

  /** True once the process should not take another task (aborted run, recycling). */
  retireAfterRun = false;
  private killGraceMs = 1_000;

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
    if (!this.exited) this.child.kill(signal);
  }

  /** Resolves when the process has exited. */
  exited$(): Promise<void> {
    return this.exitPromise;
  }

  private send(message: ToSandbox): void {
    if (this.child.connected) this.child.send(message);
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
      const onExit = (code: number | null, signal: string | null): void => {
        cleanup();
        reject(new Error(`Sandbox ${this.pid} exited during start (code ${code}, signal ${signal}): ${this.stderrTail.slice(-2_000)}`));
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
    const running = this.running;
    switch (message.type) {
      case 'done':
        if (running?.runId === message.runId) {
          this.finish(running);
          if (running.aborted) running.reject(new AttemptFailure(abortedError(running.aborted, this.pid)));
          else running.resolve(message.output);
        }
        break;
      case 'failed':
        if (running?.runId === message.runId) {
          this.finish(running);
          const error = running.aborted ? { ...abortedError(running.aborted, this.pid), cause: message.error } : { reason: 'error' as const, ...message.error };
          running.reject(new AttemptFailure(error));
        }
        break;
      case 'progress':
        if (running?.runId === message.runId) running.onProgress?.(message.value);
        break;
      case 'fatal':
        this.fatal = message.error;
        break;
      default:
        break;
    }
  }

  private finish(running: Running): void {
    this.running = undefined;
    for (const timer of running.timers) clearTimeout(timer);
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.exited = true;
    const running = this.running;
    if (running) this.finish(running);
    if (running) {
      const crash = classifyExit({ pid: this.pid, code, signal, stderrTail: this.stderrTail, ...(this.fatal && { fatal: this.fatal }) });
      const error = running.aborted ? { ...abortedError(running.aborted, this.pid), cause: crash } : crash;
      this.logger.warn({ event: 'sandbox:crash', code, signal, reason: error.reason }, error.message);
      running.reject(new AttemptFailure(error));
    } else {
      this.logger.debug({ event: 'sandbox:exit', code, signal });
    }
  }
}

/** The error of a run the supervisor stopped. */
function abortedError(reason: AbortReason, pid: number): SerializedError {
  const what = { timeout: 'timed out', cancelled: 'was cancelled', oom: 'went over its memory cap' }[reason];
  return {
    name: reason === 'timeout' ? 'TaskTimeoutError' : reason === 'cancelled' ? 'CancelledError' : 'SandboxCrashError',
    code: reason === 'timeout' ? 'TASK_TIMEOUT' : reason === 'cancelled' ? 'CANCELLED' : 'SANDBOX_CRASHED',
    message: `The task ${what} (sandbox process ${pid})`,
    reason,
    fields: { pid },
  };
}

/** A process's resident set size in MiB (Linux `/proc`), or undefined where that can't be read. */
export function readRssMb(pid: number): number | undefined {
  try {
    const statm = readFileSync(`/proc/${pid}/statm`, 'utf8');
    const pages = Number(statm.split(' ')[1]);
    return (pages * PAGE_BYTES) / 1_048_576;
  } catch {
    return undefined;
  }
}

const PAGE_BYTES = 4_096;
