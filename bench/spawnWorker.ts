import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { childPids } from './processUsage.ts';

/** A `taskpool-worker` process started by a benchmark. */
export interface SpawnedWorker {
  pid: number;
  /**
   * Its live child processes, read from /proc (a pool may log `worker:ready` before all have started): the
   * sandboxes, whatever their entry file is called.
   */
  sandboxPids(): number[];
  /** SIGTERM, then SIGKILL after 10 s; resolves when it has exited. */
  stop(): Promise<void>;
}

/** Options of {@link spawnWorker}. */
export interface SpawnWorkerOptions {
  root: string;
  redisUrl: string;
  prefix: string;
  /** Task module, relative to `root`. */
  tasks: string;
  concurrency: number;
  /** Queues to serve (`--queues`). Default: every queue of the module's tasks. */
  queues?: string[];
  /** More environment for the worker (e.g. `TASKPOOL_OBJECTS_DIR`). */
  env?: Record<string, string>;
  /** Sandbox processes to wait for before it counts as started: 0 for a worker of inline queues. Default: `concurrency`. */
  sandboxes?: number;
}

const READY_TIMEOUT_MS = 60_000;
const POLL_MS = 50;
const STOP_GRACE_MS = 10_000;

/**
 * Starts `node_modules/.bin/taskpool-worker` as a separate process, as in production, with JSON logs, and
 * resolves once it has logged `worker:ready` and all its sandbox processes exist. Its later log lines are read and dropped.
 */
export async function spawnWorker(options: SpawnWorkerOptions): Promise<SpawnedWorker> {
  const bin = join(options.root, 'node_modules/.bin/taskpool-worker');
  // BENCH_WORKER_NODE_ARGS, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`, to profile the worker while a benchmark runs.
  const nodeArgs = process.env.BENCH_WORKER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const queues = options.queues ? ['--queues', options.queues.join(',')] : [];
  const child = spawn(process.execPath, [...nodeArgs, bin, '--tasks', options.tasks, '--concurrency', String(options.concurrency), ...queues], {
    cwd: options.root,
    env: { ...process.env, REDIS_URL: options.redisUrl, TASKPOOL_PREFIX: options.prefix, LOG_FORMAT: 'json', LOG_LEVEL: 'info', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Never leave a worker behind if this process ends without stop(): its Redis goes with it.
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  // 'error' (the spawn failed) rejects this; it is awaited below.
  const exited = once(child, 'exit').finally(() => process.removeListener('exit', killOnExit)).then(
    ([code, signal]) => `exited (code ${String(code)}, signal ${String(signal)})`,
    (error: Error) => `could not be started: ${error.message}`,
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4_000)));
  const lines = createInterface({ input: child.stdout });

  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`taskpool-worker ${why}; stderr:\n${stderr}`));
    };
    const timer = setTimeout(() => fail(`did not log worker:ready within ${READY_TIMEOUT_MS} ms`), READY_TIMEOUT_MS);
    void exited.then((how) => fail(`${how} before it was ready`));
    lines.on('line', (text) => {
      if (settled || !text.includes('"worker:ready"')) return;
      const line = JSON.parse(text) as { event?: string };
      if (line.event !== 'worker:ready') return;
      settled = true;
      clearTimeout(timer);
      resolve();
    });
  });

  const pid = child.pid!;
  const sandboxPids = (): number[] => childPids(pid, '');
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (sandboxPids().length < (options.sandboxes ?? options.concurrency)) {
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`taskpool-worker ${pid} has ${sandboxPids().length} of ${options.concurrency} sandboxes after ${READY_TIMEOUT_MS} ms`);
    }
    await delay(POLL_MS);
  }

  return {
    pid,
    sandboxPids,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}
