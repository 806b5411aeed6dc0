import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { findRedisServer } from '../scripts/localRedis.ts';
import { eventually, isAlive } from './helpers/spawnService.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'tp-npm-start-'));
/** Every process `npm start` started, found while it ran; killed in `afterAll` if a failed test left them. */
const started = new Set<number>();

afterAll(() => {
  // A test that failed before collecting them leaves processes that still descend from npm.
  for (const pid of [...started]) for (const below of descendantsOf(pid)) started.add(below);
  for (const pid of started) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

interface SystemReady {
  url: string;
  redisUrl: string;
  pids: { redis: number; worker: number; sandboxes: number[]; producer: number };
}

interface RunningNpmStart {
  npm: ChildProcess;
  output: Output;
  exited: Promise<[number | null, NodeJS.Signals | null]>;
  ready: SystemReady;
  /** Every process below npm once the system was ready. */
  descendants: number[];
}

/** Runs `npm start -- --port 0` in its own process group, as a shell runs a foreground command, and waits until it is ready. */
async function startNpmStart(name: string): Promise<RunningNpmStart> {
  const { REDIS_URL: _redisUrl, LOG_FORMAT: _logFormat, TASKPOOL_API_TOKENS: _tokens, ...env } = process.env;
  const npm = spawn('npm', ['start', '--', '--port', '0'], {
    cwd: ROOT,
    env: { ...env, TASKPOOL_DATA_DIR: join(dataDir, name), LOG_LEVEL: 'info', TASKPOOL_CONCURRENCY: '2', npm_config_update_notifier: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  started.add(npm.pid!);
  const output = collectOutput(npm);
  // 'close': npm has exited and its output (shared with everything below it) is read to the end.
  const exited = once(npm, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
  const ready = await waitForReady(output, exited);
  // Everything it started descends from the npm process (detached children keep their parent).
  const descendants = descendantsOf(npm.pid!);
  for (const pid of descendants) started.add(pid);
  const { pids } = ready;
  for (const pid of [pids.redis, pids.worker, pids.producer, ...pids.sandboxes]) expect(descendants).toContain(pid);
  return { npm, output, exited, ready, descendants };
}

// `npm start` without REDIS_URL starts a redis-server from PATH; without one it can only print how to get one.
describe.skipIf(findRedisServer() === undefined)('npm start', () => {
  it('starts Redis, a worker and the producer; runs a task over HTTP; stops everything on Ctrl-C', { timeout: 120_000 }, async () => {
    const { npm, output, exited, ready, descendants } = await startNpmStart('ctrl-c');
    const { url, pids } = ready;
    expect(url).toMatch(/^http:\/\/[^/]+:\d+$/);
    expect(ready.redisUrl).not.toMatch(/:6379$/);
    expect(pids.sandboxes).toHaveLength(2);
    // No TASKPOOL_API_TOKENS was set: npm start made a token, gave it to the producer and prints it.
    const token = /^API token \(made for this run[^)]*\): (\S+)$/m.exec(output.stdout())?.[1];
    expect(token, output.tail()).toMatch(/^[\w-]{32}$/);
    const auth = `-H 'authorization: Bearer ${token}'`;
    expect(output.stdout()).toContain(`curl -s -X POST ${url}/v1/tasks/math.sumSqrt ${auth} -H 'content-type: application/json' -d '{"n": 1000000}'`);
    expect(output.stdout()).toContain(`curl -s ${auth} '${url}/v1/jobs/<id>?waitMs=10000'`);
    expect(output.stdout()).toContain(`Dashboard: ${url}/dashboard`);
    expect((await fetch(`${url}/v1/tasks`)).status).toBe(401);

    const submitted = await fetch(`${url}/v1/tasks/math.sumSqrt`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ n: 1_000_000 }),
    });
    const body = (await submitted.json()) as { id: string };
    expect(submitted.status, JSON.stringify(body)).toBe(202);
    const job = await waitForCompletion(`${url}/v1/jobs/${encodeURIComponent(body.id)}`, token!);
    expect(job.result).toEqual({ sum: sumSqrt(1_000_000), pid: expect.any(Number) });
    expect(pids.sandboxes).toContain((job.result as { pid: number }).pid);

    // The Redis data (AOF on) is in the data dir given, not the repo's `.taskpool/`.
    expect(existsSync(join(dataDir, 'ctrl-c', 'redis', 'appendonlydir'))).toBe(true);

    process.kill(-npm.pid!, 'SIGINT');
    const [code, signal] = await withDeadline(exited, 60_000, () => `npm start did not exit after SIGINT.\n${output.tail()}`);
    // start.ts is npm's own child (the shell execs node, no tsx CLI in between): it stops everything and exits 0,
    // and npm exits with its script's code. (Under the tsx CLI, a late IPC reply to tsx's signal relay got
    // start.ts SIGKILLed mid-stop, and npm exited 130.)
    expect({ code, signal }, output.tail()).toEqual({ code: 0, signal: null });
    expect(logLines(output).find((l) => l.event === 'system:stopped'), output.tail()).toMatchObject({ exitCode: 0 });
    await eventually(() => descendants.every((pid) => !isAlive(pid)), `every process npm start started to exit: ${descendants.filter(isAlive).join(', ')}`, 10_000);
  });

  it('stops everything when npm itself gets SIGTERM on its own pid (as from a supervisor or timeout)', { timeout: 120_000 }, async () => {
    const { npm, output, exited, descendants } = await startNpmStart('npm-term');
    // To npm's pid only, not its group: npm ends without passing the signal on to its script.
    process.kill(npm.pid!, 'SIGTERM');
    await withDeadline(exited, 60_000, () => `npm start's processes did not end after SIGTERM to npm.\n${output.tail()}`);
    const lines = logLines(output);
    // npm either passes the SIGTERM on to start.ts or exits without, and start.ts sees its launcher gone.
    expect(lines.find((l) => l.event === 'system:launcher-exited' || (l.event === 'system:signal' && l.signal === 'SIGTERM')), output.tail()).toBeDefined();
    expect(lines.find((l) => l.event === 'system:stopped'), output.tail()).toMatchObject({ exitCode: 0 });
    await eventually(() => descendants.every((pid) => !isAlive(pid)), `every process npm start started to exit: ${descendants.filter(isAlive).join(', ')}`, 10_000);
  });

  it('stops everything when npm itself gets SIGINT on its own pid', { timeout: 120_000 }, async () => {
    const { npm, output, exited, descendants } = await startNpmStart('npm-int');
    // npm passes a SIGINT on to its script's process: that must be start.ts itself, not a shell that waits.
    process.kill(npm.pid!, 'SIGINT');
    await withDeadline(exited, 60_000, () => `npm start did not exit after SIGINT to npm.\n${output.tail()}`);
    expect(logLines(output).find((l) => l.event === 'system:stopped'), output.tail()).toMatchObject({ exitCode: 0 });
    await eventually(() => descendants.every((pid) => !isAlive(pid)), `every process npm start started to exit: ${descendants.filter(isAlive).join(', ')}`, 10_000);
  });

  it('stops the rest and exits 1 when a process it started crashes', { timeout: 120_000 }, async () => {
    const { output, exited, ready, descendants } = await startNpmStart('crash');
    process.kill(ready.pids.producer, 'SIGKILL');
    const [code, signal] = await withDeadline(exited, 60_000, () => `npm start did not exit after its producer crashed.\n${output.tail()}`);
    expect({ code, signal }, output.tail()).toEqual({ code: 1, signal: null });
    const lines = logLines(output);
    expect(lines.find((l) => l.event === 'system:crash')).toMatchObject({ process: 'producer', exit: 'signal SIGKILL' });
    expect(lines.find((l) => l.event === 'system:stopped')).toMatchObject({ exitCode: 1 });
    await eventually(() => descendants.every((pid) => !isAlive(pid)), `every process npm start started to exit: ${descendants.filter(isAlive).join(', ')}`, 10_000);
  });
});

/** The complete JSON lines of the output so far (npm's own lines and the try-it text are not JSON). */
function logLines(output: Output): Array<Record<string, unknown>> {
  const complete = output.stdout().split('\n').slice(0, -1);
  return complete.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
}

interface Output {
  stdout(): string;
  /** The last lines of both streams, for failure messages. */
  tail(): string;
}

function collectOutput(child: ChildProcess): Output {
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return {
    stdout: () => stdout,
    tail: () => `stdout:\n${stdout.split('\n').slice(-30).join('\n')}\nstderr:\n${stderr.slice(-3_000)}`,
  };
}

/** Polls the output for the `system:ready` log line and the text after it until a deadline; fails at once if npm exits. */
async function waitForReady(output: Output, exited: Promise<unknown>): Promise<SystemReady> {
  let hasExited = false;
  void exited.then(() => (hasExited = true));
  let ready: SystemReady | undefined;
  await eventually(
    () => {
      if (hasExited) throw new Error(`npm start exited before it was ready.\n${output.tail()}`);
      ready = logLines(output).find((l) => l.event === 'system:ready') as SystemReady | undefined;
      return ready !== undefined && output.stdout().includes('Ctrl-C stops everything.');
    },
    'npm start to print system:ready',
    60_000,
    100,
  ).catch((error: Error) => Promise.reject(new Error(`${error.message}\n${output.tail()}`)));
  return ready!;
}

async function waitForCompletion(jobUrl: string, token: string): Promise<Record<string, unknown>> {
  let job: Record<string, unknown> = {};
  await eventually(
    async () => {
      const response = await fetch(jobUrl, { headers: { authorization: `Bearer ${token}` } });
      job = (await response.json()) as Record<string, unknown>;
      if (job.state === 'failed') throw new Error(`The job failed: ${JSON.stringify(job)}`);
      // `result` too: the core's job view reads the job, then its state, so a job completing in between shows
      // as completed with the stale `result: null` (a race in packages/core/src/client/jobView.ts).
      return job.state === 'completed' && job.result != null;
    },
    `the job at ${jobUrl} to complete (last seen: ${JSON.stringify(job)})`,
    30_000,
    100,
  );
  return job;
}

/** The same loop as the task, so the sums are equal to the last bit. */
function sumSqrt(n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.sqrt(i);
  return s;
}

/** Every process below `root`, from the parent pids in /proc/<pid>/stat (Linux). */
function descendantsOf(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

async function withDeadline<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message())), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
