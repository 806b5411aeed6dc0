import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import getPort from 'get-port';
import { Redis } from 'ioredis';

/** A redis-server started by {@link startLocalRedis}; call `stop()` when done. */
export interface LocalRedis {
  /** `redis://127.0.0.1:<port>`. */
  url: string;
  port: number;
  /** The redis-server process id. */
  pid: number;
  /** The absolute data directory (AOF files and `redis.log`). */
  dir: string;
  /** Sends SIGTERM and waits for the exit (SIGKILL after 5 s). Safe to call more than once. */
  stop(): Promise<void>;
}

/** How {@link startLocalRedis} starts redis-server. */
export interface StartLocalRedisOptions {
  /** Data directory, created if missing; holds the AOF files and `redis.log`. */
  dir: string;
  /** Port on 127.0.0.1. Default: a free port (never 6379). */
  port?: number;
  /** Turn on the append-only file (`appendfsync everysec`). Default: false. */
  appendOnly?: boolean;
  /** Path of the redis-server binary. Default: the one on PATH. */
  redisServerPath?: string;
  /** More redis-server arguments, e.g. `['--cluster-enabled', 'yes']`. Default: none. */
  extraArgs?: string[];
  /** A config file redis-server reads first (e.g. a sentinel's, with `extraArgs: ['--sentinel']`); the other options override it. Default: none. */
  configFile?: string;
}

const READY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;
const PROBE_INTERVAL_MS = 50;
const DEFAULT_REDIS_PORT = 6379;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * Finds redis-server on PATH.
 *
 * @returns Its absolute path, or `undefined` when it is not installed.
 */
export function findRedisServer(): string | undefined {
  // `command -v` reads PATH in the child, so this module never reads the environment itself.
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const path = found.status === 0 ? found.stdout.trim() : '';
  if (path === '') return undefined;
  const absolute = isAbsolute(path) ? path : resolve(path);
  return existsSync(absolute) ? absolute : undefined;
}

/**
 * Starts a throwaway redis-server on 127.0.0.1 (no RDB snapshots, optional AOF) and waits until it answers PING.
 *
 * @throws LocalRedisError (`REDIS_UNAVAILABLE`) when redis-server is missing, exits early (e.g. the port is taken),
 *   or does not answer within 10 s; the message ends with the tail of its log.
 */
export async function startLocalRedis(opts: StartLocalRedisOptions): Promise<LocalRedis> {
  const redisServerPath = opts.redisServerPath ?? findRedisServer();
  if (redisServerPath === undefined) {
    throw new LocalRedisError('redis-server is not on PATH (install it, e.g. `apt-get install -y redis-server`)');
  }
  const dir = resolve(opts.dir);
  await mkdir(dir, { recursive: true });
  // A port picked by get-port can be taken before redis-server binds it; then pick another.
  const attempts = opts.port === undefined ? 3 : 1;
  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await getPort({ host: '127.0.0.1', exclude: [DEFAULT_REDIS_PORT] }));
    try {
      return await startOnPort(redisServerPath, port, { ...opts, dir });
    } catch (error) {
      if (!(error instanceof PortTakenError) || attempt >= attempts) throw error;
    }
  }
}

/**
 * A local redis-server that could not be started. Self-contained (no import of the packages), so that the test
 * setup that uses this file can load before the packages are built and say so.
 */
export class LocalRedisError extends Error {
  override name = 'LocalRedisError';
  readonly code = 'REDIS_UNAVAILABLE';
}

class PortTakenError extends LocalRedisError {
  override name = 'PortTakenError';
}

async function startOnPort(redisServerPath: string, port: number, opts: StartLocalRedisOptions): Promise<LocalRedis> {
  const { dir, appendOnly = false, extraArgs = [] } = opts;
  const logFile = join(dir, 'redis.log');
  // redis-server appends to its log; only what this start writes explains this start's failure.
  const logStart = await stat(logFile).then((s) => s.size, () => 0);
  const args = [
    ...(opts.configFile === undefined ? [] : [opts.configFile]),
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--appendonly', appendOnly ? 'yes' : 'no',
    ...(appendOnly ? ['--appendfsync', 'everysec'] : []),
    '--save', '',
    '--daemonize', 'no',
    '--logfile', logFile,
    ...extraArgs,
  ];
  // Its own process group: a Ctrl-C in the terminal must not stop Redis before the workers have finished.
  const child = spawn(redisServerPath, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4_000);
  });
  const exited = new Promise<Exit>((resolveExit) => {
    child.once('exit', (code, signal) => resolveExit({ code, signal }));
    // A failed spawn (ENOENT, EACCES) emits 'error' and no 'exit'.
    child.once('error', (error) => {
      stderr += `\n${error.message}`;
      resolveExit({ code: null, signal: null });
    });
  });
  // Stops an orphan if the caller's process exits without calling stop().
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const failure = async (what: string): Promise<LocalRedisError> => {
    const tail = await logTail(logFile, logStart, stderr);
    const message = `redis-server on port ${port} ${what}${tail ? `; its log ends with:\n${tail}` : ''}`;
    return /Address already in use/i.test(tail)
      ? new PortTakenError(`Port ${port} on 127.0.0.1 is already in use, so ${message}`)
      : new LocalRedisError(message);
  };

  const pid = await waitUntilReady(child, exited, port);
  if (typeof pid !== 'number') {
    if (pid === 'timeout') await stopProcess(child, exited);
    process.removeListener('exit', killOnExit);
    throw await failure(pid === 'timeout' ? `did not answer PING within ${READY_TIMEOUT_MS / 1000} s` : describeExit(await exited));
  }

  let stopping: Promise<void> | undefined;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid,
    dir,
    stop() {
      stopping ??= stopProcess(child, exited).finally(() => process.removeListener('exit', killOnExit));
      return stopping;
    },
  };
}

/** Polls until our own redis-server answers (returns its pid), it exits, or the deadline passes. */
async function waitUntilReady(child: ChildProcess, exited: Promise<Exit>, port: number): Promise<number | 'exited' | 'timeout'> {
  let hasExited = false;
  void exited.then(() => (hasExited = true));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (hasExited) return 'exited';
    // Another server may hold the port; only a reply from our pid counts.
    if (child.pid !== undefined && (await answeringPid(port)) === child.pid) return child.pid;
    await Promise.race([delay(PROBE_INTERVAL_MS), exited]);
  }
  return hasExited ? 'exited' : 'timeout';
}

/** Sends PING and INFO to 127.0.0.1:port; returns the server's pid, or undefined if it does not answer yet. */
async function answeringPid(port: number): Promise<number | undefined> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1_000,
  });
  client.on('error', () => {}); // failures surface through the awaited calls below
  try {
    await client.connect();
    if ((await client.ping()) !== 'PONG') return undefined;
    const match = /^process_id:(\d+)/m.exec(await client.info('server'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  } finally {
    client.disconnect();
  }
}

async function stopProcess(child: ChildProcess, exited: Promise<Exit>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

function describeExit({ code, signal }: Exit): string {
  if (signal) return `was killed by ${signal}`;
  return code === null ? 'could not be started' : `exited with code ${code}`;
}

async function logTail(logFile: string, fromByte: number, stderr: string, lines = 15): Promise<string> {
  const log = await readFile(logFile).then((b) => b.subarray(fromByte).toString('utf8'), () => '');
  return `${log}\n${stderr}`.trim().split('\n').slice(-lines).join('\n');
}
