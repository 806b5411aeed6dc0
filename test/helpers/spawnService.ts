import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { TEST_TOKEN } from './testToken.ts';

/** A log line of a service (pino JSON). */
export type LogLine = Record<string, unknown> & { event?: string; msg?: string };

/** A taskpool process started by a test, with its JSON log lines. */
export interface Service {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Every JSON log line so far. */
  readonly lines: LogLine[];
  /** Every raw stderr chunk so far. */
  readonly stderr: string[];
  /** Resolves with the first line (past or future) matching, or rejects after `timeoutMs`. */
  waitFor(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends a signal and waits for the exit (SIGKILL after `killAfterMs`). */
  stop(signal?: NodeJS.Signals, killAfterMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Where {@link spawnService} finds a bin and what runs it. */
export interface SpawnAt {
  /** The project whose `node_modules/.bin` holds the bin; also the working directory. Default: this repo. */
  project?: string;
  /** The Node binary that runs it. Default: the one running the tests. */
  node?: string;
  /** The environment that `env` is added to. Default: `process.env`. */
  baseEnv?: NodeJS.ProcessEnv;
}

/** Starts a bin of this repo (`taskpool-worker`, `taskpool-producer`, ...), or of the project `at` names, with JSON logs. */
export function spawnService(bin: string, args: string[], env: Record<string, string>, at: SpawnAt = {}): Service {
  const project = at.project ?? ROOT;
  const child = spawn(at.node ?? process.execPath, [join(project, 'node_modules', '.bin', bin), ...args], {
    cwd: project,
    env: { ...(at.baseEnv ?? process.env), LOG_FORMAT: 'json', LOG_LEVEL: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`Could not start ${bin}`);
  const lines: LogLine[] = [];
  const stderr: string[] = [];
  const listeners = new Set<(line: LogLine) => void>();
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      line = { msg: text };
    }
    lines.push(line);
    for (const listener of listeners) listener(line);
  });
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString('utf8')));
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));

  const waitFor = (match: (line: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> => {
    const seen = lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        listeners.delete(listener);
        reject(new Error(`${bin} (pid ${child.pid}): no matching log line within ${timeoutMs} ms.\nstdout tail: ${JSON.stringify(lines.slice(-5))}\nstderr: ${stderr.join('').slice(-2000)}`));
      }, timeoutMs);
      const listener = (line: LogLine): void => {
        if (!match(line)) return;
        clearTimeout(timer);
        listeners.delete(listener);
        resolve(line);
      };
      listeners.add(listener);
      void exited.then(({ code, signal }) => {
        if (!listeners.has(listener)) return;
        clearTimeout(timer);
        listeners.delete(listener);
        reject(new Error(`${bin} exited (code ${code}, signal ${signal}) before the awaited log line.\nstderr: ${stderr.join('').slice(-2000)}`));
      });
    });
  };

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', killAfterMs = 20_000) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    const result = await exited;
    clearTimeout(timer);
    return result;
  };

  return { pid: child.pid, child, lines, stderr, waitFor, exited, stop };
}

/** Options of {@link spawnWorker}. */
export interface SpawnWorkerOptions {
  redisUrl: string;
  prefix: string;
  /** Task module path, relative to the repo root (or to `at.project`). */
  tasks: string;
  concurrency?: number;
  env?: Record<string, string>;
  /** Another project's bin, or another Node. Default: this repo's bin, the tests' Node. */
  at?: SpawnAt;
}

/** A `taskpool-worker` process, with the pids of the sandboxes it started with. */
export type WorkerService = Service & { sandboxPids: number[] };

/** Starts `taskpool-worker` and waits until it serves (its `worker:ready` line); kills it if it never does. */
export async function spawnWorker(options: SpawnWorkerOptions): Promise<WorkerService> {
  const service = spawnService('taskpool-worker', ['--tasks', options.tasks, '--concurrency', String(options.concurrency ?? 2)], {
    REDIS_URL: options.redisUrl,
    TASKPOOL_PREFIX: options.prefix,
    ...options.env,
  }, options.at);
  const ready = await readyOrStopped(service, 'worker:ready');
  return Object.assign(service, { sandboxPids: ready.sandboxPids as number[] });
}

/** Options of {@link spawnProducer}. */
export type SpawnProducerOptions = Omit<SpawnWorkerOptions, 'concurrency'>;

/** A `taskpool-producer` process, with the base URL it listens on (e.g. `http://127.0.0.1:40123`). */
export type ProducerService = Service & { url: string };

/**
 * Starts `taskpool-producer` on a free port, accepting the tests' token (`TEST_TOKEN`), and waits until it
 * listens (its `producer:ready` line); kills it if it never does.
 */
export async function spawnProducer(options: SpawnProducerOptions): Promise<ProducerService> {
  const service = spawnService('taskpool-producer', ['--tasks', options.tasks, '--port', '0'], {
    REDIS_URL: options.redisUrl,
    TASKPOOL_PREFIX: options.prefix,
    TASKPOOL_API_TOKENS: TEST_TOKEN,
    ...options.env,
  }, options.at);
  const ready = await readyOrStopped(service, 'producer:ready');
  return Object.assign(service, { url: String(ready.url) });
}

/** Waits (up to 60 s) for the service's `event` line; if it does not come, stops the service and rethrows. */
async function readyOrStopped(service: Service, event: string): Promise<LogLine> {
  try {
    return await service.waitFor((line) => line.event === event, 60_000);
  } catch (error) {
    await service.stop('SIGKILL');
    throw error;
  }
}

/** True while a process with that pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `check` until it returns true, or throws after `timeoutMs` with `what` in the message. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
