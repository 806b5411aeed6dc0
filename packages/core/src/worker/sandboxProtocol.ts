import type { ObjectReply, ObjectRequest, SandboxObjectSettings } from '../objects/objectRequester.ts';
import type { SerializedError } from '../serializeError.ts';
import type { RunInput, RunResult } from './runTask.ts';

/** What a sandbox is given when it starts (the argument after the task module's path; a thread's `workerData.settings`). */
export interface SandboxSettings {
  objects: SandboxObjectSettings;
}

/** A sandbox of a worker with no object cache: `ctx.put` fails, outputs are never stored by reference. */
export const NO_OBJECTS: SandboxObjectSettings = { inlineMaxBytes: Number.MAX_SAFE_INTEGER, maxObjectBytes: 0 };

/**
 * What a sandbox that takes its own jobs (`fetch: 'sandbox'`) is told once it is ready: where Redis is, which
 * queues to serve and how. It then fetches, runs and completes jobs itself (`sandboxFetch.ts`).
 */
export interface ServeConfig {
  redisUrl: string;
  prefix: string;
  workerId: string;
  queues: string[];
  lockDurationMs: number;
  quarantineAfterCrashes: number;
  maxStalls: number;
  /** Stop fetching after this many jobs (the supervisor starts a replacement when the process exits). */
  maxTasks?: number;
  /** Each queue's rate limit (BullMQ's limiter is per queue in Redis, so every sandbox applies it). */
  limiters: Record<string, { max: number; durationMs: number }>;
  /** The supervisor's log level: lines below it are not sent. */
  logLevel: string;
}

/** What the supervisor sends to a sandbox process. */
export type ToSandbox =
  /** Run a task; a sandbox runs the runs it is sent in order, one at a time. */
  | { type: 'run'; runId: number; task: string; input: RunInput; jobId: string; attempt: number }
  /** Stop a run: if it has not started, drop it and answer `failed`; if it runs, fire its signal. */
  | { type: 'abort'; runId: number; reason: 'timeout' | 'cancelled' | 'shutdown' }
  | { type: 'shutdown' }
  /** Take jobs from Redis yourself from now on. */
  | { type: 'serve'; config: ServeConfig }
  /** Stop the job you hold (its signal fires), record how it ended, and take no more jobs. */
  | { type: 'abort-job'; jobId: string; reason: 'timeout' | 'cancelled' }
  /** Take no more jobs; answer `drained` once the job held (if any) is recorded. */
  | { type: 'drain' }
  /** The local file of an object a handler asked for (`ctx.get`), or why there is none. */
  | ObjectReply;

/** The job a self-fetching sandbox holds, as it tells its supervisor (fire and forget). */
export interface HeldJob {
  queue: string;
  jobId: string;
  task: string;
  /** BullMQ's lock token: the supervisor renews the lock with it, and fails the job with it if the process dies. */
  token: string;
  attempt: number;
  /** The attempt's hard limit, ms (the job's `timeoutMs`, else the task's). */
  timeoutMs?: number;
  /** False while the job waits for another of the sandbox's jobs to end (a sandbox serving several queues). */
  started: boolean;
}

/** A self-fetching sandbox recorded a job's outcome (or gave it back): `done`/`failed` count toward the heartbeat. */
export interface Released {
  jobId: string;
  outcome: 'done' | 'failed' | 'none';
}

/** What a sandbox process sends to its supervisor. */
export type FromSandbox =
  | { type: 'ready'; pid: number }
  | { type: 'setup-failed'; error: SerializedError }
  | { type: 'done'; runId: number; output: RunResult }
  | { type: 'failed'; runId: number; error: SerializedError }
  | { type: 'progress'; runId: number; value: number | object }
  | { type: 'fatal'; error: SerializedError }
  /**
   * A self-fetching sandbox took a job (or, with `started`, began running one it held); `releases` is the
   * previous job's `released`, when the next job came before it was sent (one message per job under load).
   */
  | ({ type: 'job'; releases?: Released } & HeldJob)
  | ({ type: 'released' } & Released)
  | { type: 'drained' }
  /** A self-fetching sandbox serves: its jobs' lock tokens start with one of `lockOwners` (its BullMQ workers' ids). */
  | { type: 'serving'; lockOwners: string[] }
  /** A handler asked for an object by reference (`ctx.get`): the supervisor answers with its local file. */
  | ObjectRequest
  /** A log line of the sandbox's job bookkeeping, for the worker's logger. */
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; record: Record<string, unknown>; msg?: string };
