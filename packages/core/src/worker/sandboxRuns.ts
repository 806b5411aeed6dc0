import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { SerializedError } from '../serializeError.ts';
import { abortedError, AttemptFailure, RunNotStarted, type AbortReason } from './attemptFailure.ts';
import { readRssMb } from './processStats.ts';
import type { RunResult } from './runTask.ts';
import type { RunInput } from './runTask.ts';
import type { ToSandbox } from './sandboxProtocol.ts';

/** One task to run in a sandbox. */
export interface SandboxRequest {
  task: string;
  /** The job's queue (what an object the task stores is owned by, with `jobId`). */
  queue: string;
  input: RunInput;
  jobId: string;
  attempt: number;
  onProgress?: (value: number | object) => void;
  /** Hard limit: the handler's signal fires, and `killGraceMs` later the process is SIGKILLed. Default: none. */
  timeoutMs?: number;
  /** Between the abort signal and SIGKILL (timeouts and cancels). Default: 1000 ms. */
  killGraceMs?: number;
  /** RSS cap of the process while the task runs, sampled every `RSS_SAMPLE_MS`; over it the process is SIGKILLed at once (`oom`). */
  maxRssMb?: number;
}

/** One run sent to a sandbox, as its supervisor watches it. */
interface Running {
  runId: number;
  /** Monotonic ms when the run started (became the head of the runs); 0 while it waits behind others. */
  startedAt: number;
  jobId: string;
  task: string;
  queue: string;
  /** Set once the supervisor has aborted the run: it decides the failure's reason. */
  aborted?: AbortReason;
  timers: NodeJS.Timeout[];
  timeoutMs?: number;
  maxRssMb?: number;
  killGraceMs: number;
  resolve: (output: unknown) => void;
  reject: (error: Error) => void;
  onProgress?: (value: number | object) => void;
}

/** One run of a sandbox: its id (what an abort names) and how it ends. */
export interface StartedRun {
  runId: number;
  outcome: Promise<unknown>;
}

/** What the runs need of their sandbox. */
export interface SandboxRunsHost {
  readonly pid: number;
  readonly logger: Logger;
  send(message: ToSandbox): void;
  /** SIGKILLs the process. */
  kill(): void;
  /** The process takes no more runs once these end (a run was aborted: the process is suspect). */
  retire(): void;
  /** A run started (it is the head now): its output lines are tagged with it. */
  began(run: { jobId: string; task: string }): void;
}

/**
 * The runs sent to one sandbox, in order (`sandboxProcess.ts`): the first one runs, the others wait behind it in
 * the sandbox, which answers each before it starts the next. The head's limits apply from when it became the
 * head: its timeout, its memory cap (RSS sampled every `sampleMs`) and its abort, with SIGKILL after the grace.
 * A death while several runs are held is blamed on none of them (the head's answer may have been on its way):
 * each one not stopped by the supervisor is rejected with {@link RunNotStarted} and runs again alone.
 */
export class SandboxRuns {
  private readonly runs: Running[] = [];
  private nextRunId = 1;

  constructor(
    private readonly host: SandboxRunsHost,
    private readonly sampleMs: number,
  ) {}

  /** Runs sent and not answered. */
  get size(): number {
    return this.runs.length;
  }

  /** The run that runs now. */
  get head(): { jobId: string; task: string } | undefined {
    return this.runs[0];
  }

  /** The queue of a job among the runs (whose `ctx.put` the supervisor serves). */
  queueOf(jobId: string): string | undefined {
    return this.runs.find((r) => r.jobId === jobId)?.queue;
  }

  /** Sends a run: it starts at once if nothing runs, else after the runs sent before it. */
  start(request: SandboxRequest): StartedRun {
    const runId = this.nextRunId++;
    const outcome = new Promise<unknown>((resolve, reject) => {
      const running: Running = {
        runId,
        startedAt: 0,
        jobId: request.jobId,
        task: request.task,
        queue: request.queue,
        resolve,
        reject,
        timers: [],
        killGraceMs: request.killGraceMs ?? 1_000,
        ...(request.timeoutMs !== undefined && { timeoutMs: request.timeoutMs }),
        ...(request.maxRssMb !== undefined && { maxRssMb: request.maxRssMb }),
        ...(request.onProgress && { onProgress: request.onProgress }),
      };
      this.runs.push(running);
      this.host.send({ type: 'run', runId, task: request.task, input: request.input, jobId: request.jobId, attempt: request.attempt });
      if (this.runs.length === 1) this.begin(running);
    });
    return { runId, outcome };
  }

  /**
   * Stops a run: its handler's signal fires at once (a run still waiting is dropped by the sandbox), and the
   * process is SIGKILLed `graceMs` after the run has started unless the handler has given up by then. The run
   * fails with `reason` as its failure reason.
   */
  abort(runId: number, reason: AbortReason, graceMs?: number): void {
    const running = this.runs.find((r) => r.runId === runId);
    if (!running || running.aborted) return;
    running.aborted = reason;
    if (reason !== 'oom') this.host.send({ type: 'abort', runId, reason: reason === 'cancelled' ? 'cancelled' : 'timeout' });
    if (running !== this.runs[0]) return;
    // Even a handler that honours the signal leaves its process suspect (timers, sockets): kill it anyway.
    // Over its memory cap, at once: a process near its heap limit may spend many seconds in GC.
    const grace = graceMs ?? running.killGraceMs;
    if (grace <= 0) this.host.kill();
    else running.timers.push(setTimeout(() => this.host.kill(), grace));
    this.host.retire();
  }

  /** The sandbox answered `done`. */
  done(runId: number, output: RunResult): void {
    const running = this.answered(runId);
    if (running?.aborted) running.reject(new AttemptFailure(abortedError(running.aborted, this.host.pid)));
    else running?.resolve(output);
  }

  /** The sandbox answered `failed`. */
  failed(runId: number, error: SerializedError): void {
    const running = this.answered(runId);
    if (!running) return;
    running.reject(new AttemptFailure(running.aborted ? { ...abortedError(running.aborted, this.host.pid), cause: error } : { reason: 'error', ...error }));
  }

  progress(runId: number, value: number | object): void {
    this.runs.find((r) => r.runId === runId)?.onProgress?.(value);
  }

  /** The channel failed: a lone run fails with `error` at once (the process is being killed); several wait for the exit. */
  unreachable(error: SerializedError): void {
    const running = this.runs[0];
    if (this.runs.length !== 1 || !running || running.aborted) return;
    this.answered(running.runId);
    this.host.retire();
    running.reject(new AttemptFailure(error));
  }

  /** The process exited: every run still held ends, `crash` saying how (see the class). */
  exited(crash: () => SerializedError, exit: { code: number | null; signal: NodeJS.Signals | null }): void {
    const runs = this.runs.splice(0);
    for (const running of runs) for (const timer of running.timers) clearTimeout(timer);
    if (runs.length === 0) return;
    const death = crash();
    const { pid, logger } = this.host;
    if (runs.length > 1) {
      // One the supervisor stopped (timeout, cancel, memory cap) fails for that; no other is blamed.
      logger.warn({ event: 'sandbox:crash', jobIds: runs.map((r) => r.jobId), ...exit, reason: death.reason, errorCode: death.code, runsHeld: runs.length }, `${death.message} (holding ${runs.length} runs: those not stopped run again alone)`);
      for (const running of runs) {
        if (running.aborted) running.reject(new AttemptFailure({ ...abortedError(running.aborted, pid), cause: death }));
        else running.reject(new RunNotStarted(death));
      }
      return;
    }
    const running = runs[0]!;
    const error = running.aborted ? { ...abortedError(running.aborted, pid), cause: death } : death;
    const durationMs = Math.round(performance.now() - running.startedAt);
    logger.warn({ event: 'sandbox:crash', jobId: running.jobId, task: running.task, ...exit, reason: error.reason, errorCode: error.code, durationMs }, error.message);
    running.reject(new AttemptFailure(error));
  }

  /** The head run starts: its limits apply from now. */
  private begin(running: Running): void {
    running.startedAt = performance.now();
    this.host.began(running);
    if (running.aborted) {
      // Aborted while it waited: the sandbox drops it or fires its signal; a handler that ignores it is killed.
      running.timers.push(setTimeout(() => this.host.kill(), running.killGraceMs));
      return;
    }
    if (running.timeoutMs !== undefined) running.timers.push(setTimeout(() => this.abort(running.runId, 'timeout'), running.timeoutMs));
    if (running.maxRssMb !== undefined) {
      const cap = running.maxRssMb;
      running.timers.push(
        setInterval(() => {
          const rss = readRssMb(this.host.pid);
          if (rss === undefined || rss <= cap) return;
          this.host.logger.warn({ event: 'sandbox:over-memory', jobId: running.jobId, rssMb: Math.round(rss), maxRssMb: cap });
          this.abort(running.runId, 'oom', 0);
        }, this.sampleMs),
      );
    }
  }

  /** A run the sandbox answered, taken off the runs; the next one starts if it was the head. */
  private answered(runId: number): Running | undefined {
    const at = this.runs.findIndex((r) => r.runId === runId);
    if (at < 0) return undefined;
    const [running] = this.runs.splice(at, 1);
    for (const timer of running!.timers) clearTimeout(timer);
    const next = this.runs[0];
    if (at === 0 && next) this.begin(next);
    return running;
  }
}
