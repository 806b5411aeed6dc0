import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';

/** How a process ended. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A JSON log line of a started process. */
export type LogLine = Record<string, unknown> & { event?: string };

/** A long-running process started by {@link startChild}. */
export interface Child {
  readonly name: string;
  readonly pid: number;
  /** Resolves when the process has exited (and its output is drained). */
  readonly exited: Promise<Exit>;
  /** Resolves with the first JSON log line with that `event`; rejects if the process exits first or after `timeoutMs`. */
  waitForEvent(event: string, timeoutMs: number): Promise<LogLine>;
  /** Sends SIGTERM and waits for the exit; SIGKILL after `killAfterMs`. Safe to call more than once. */
  stop(killAfterMs: number): Promise<Exit>;
  /** True until the process has exited. */
  isRunning(): boolean;
  /** Sends SIGKILL now (its sandboxes exit when their IPC channel closes). */
  kill(): void;
}

/** A started process exited, or took too long, before logging the line that says it is ready. */
export class ChildNotReadyError extends Error {
  override name = 'ChildNotReadyError';
  readonly code = 'CHILD_NOT_READY';
}

/** What {@link startChild} starts. */
export interface StartChildOptions {
  /** Shown in errors, e.g. `worker`. */
  name: string;
  /** A JavaScript file, run with this Node (`node_modules/.bin/taskpool-worker`). */
  script: string;
  args: string[];
  cwd: string;
  env: Record<string, string | undefined>;
  /** Every line the process prints on stdout. */
  onLine(line: string): void;
}

/** How long to wait for the rest of a process's output once it has exited (a grandchild may hold the pipe). */
const DRAIN_MS = 1_000;

/**
 * Starts a Node script in its own process group (`detached`), so a Ctrl-C in the terminal reaches only
 * `npm start`, which then stops each process once, in order; stderr is passed through.
 */
export function startChild(options: StartChildOptions): Child {
  const child = spawn(process.execPath, [options.script, ...options.args], {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  // 'close' (all output read) may come in the same tick as 'exit', so listen for it from the start.
  const closed = once(child, 'close').catch(() => {});
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    // A failed spawn (ENOENT, EACCES) emits 'error' and no 'exit'.
    child.once('error', () => resolve({ code: null, signal: null }));
  }).then(async (exit) => {
    await Promise.race([closed, delay(DRAIN_MS, undefined, { ref: false })]);
    return exit;
  });
  const events = new Map<string, LogLine>();
  const listeners = new Set<() => void>();
  createInterface({ input: child.stdout! }).on('line', (text) => {
    options.onLine(text);
    const line = parseLogLine(text);
    if (typeof line?.event === 'string' && !events.has(line.event)) {
      events.set(line.event, line);
      for (const listener of listeners) listener();
    }
  });

  const waitForEvent = (event: string, timeoutMs: number): Promise<LogLine> =>
    new Promise((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        listeners.delete(check);
        fn();
      };
      const check = (): void => {
        const line = events.get(event);
        if (line) settle(() => resolve(line));
      };
      const fail = (why: string): void => settle(() => reject(new ChildNotReadyError(`The ${options.name} (pid ${child.pid}) ${why}`)));
      const timer = setTimeout(() => fail(`did not log ${event} within ${timeoutMs / 1000} s`), timeoutMs);
      listeners.add(check);
      check();
      void exited.then((exit) => {
        check();
        fail(`exited (${describeExit(exit)}) before logging ${event}`);
      });
    });

  const isRunning = (): boolean => child.pid !== undefined && child.exitCode === null && child.signalCode === null;
  const kill = (): void => {
    if (isRunning()) child.kill('SIGKILL');
  };
  let stopping: Promise<Exit> | undefined;
  const stop = (killAfterMs: number): Promise<Exit> => {
    stopping ??= (async () => {
      if (isRunning()) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    })();
    return stopping;
  };

  // A failed spawn has no pid; `exited` then says it could not be started.
  return { name: options.name, pid: child.pid ?? -1, exited, waitForEvent, stop, isRunning, kill };
}

/** `code 1`, `signal SIGKILL`, or `could not be started`. */
export function describeExit({ code, signal }: Exit): string {
  if (signal) return `signal ${signal}`;
  return code === null ? 'could not be started' : `code ${code}`;
}

function parseLogLine(text: string): LogLine | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    return JSON.parse(text) as LogLine;
  } catch {
    return undefined;
  }
}
