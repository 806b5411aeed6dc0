import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

/** What `bench/granularity.py --serve` answers for one run. */
export interface PythonRun {
  side: 'serial' | 'pool';
  ms: number;
  n: number;
  iterations: number;
  wallMs: number;
  /** CPU of the Python parent process (its `time.process_time()`). */
  parentCpuMs: number;
  /** CPU of the pool's processes, from /proc; null where there is none. */
  poolCpuMs: number | null;
}

/** A running `bench/granularity.py --serve`: its pool is up and warm. */
export interface PythonPool {
  pid: number;
  python: string;
  itersPerMs: number;
  run(side: 'serial' | 'pool', ms: number, n: number): Promise<PythonRun>;
  /** Closes its stdin (it shuts its pool down and exits); SIGKILL after 10 s. */
  stop(): Promise<void>;
}

const SCRIPT = fileURLToPath(new URL('./granularity.py', import.meta.url));
const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;

/** The Python interpreter to use (`BENCH_PYTHON`, default `python3`), or why there is none. */
export function findPython(): { python: string } | { missing: string } {
  const python = process.env.BENCH_PYTHON ?? 'python3';
  const probe = spawnSync(python, ['-c', 'import concurrent.futures, json'], { encoding: 'utf8' });
  if (probe.error) return { missing: `${python} could not be run (${probe.error.message})` };
  if (probe.status !== 0) return { missing: `${python} exited ${String(probe.status)}: ${probe.stderr.trim()}` };
  return { python };
}

/** Starts `granularity.py --serve` with `workers` pool processes and waits until its pool is warm. */
export async function startPythonPool(python: string, workers: number): Promise<PythonPool> {
  const child = spawn(python, [SCRIPT, '--serve', '--workers', String(workers)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = once(child, 'exit').finally(() => process.removeListener('exit', killOnExit));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (what: string): Promise<Record<string, unknown>> => {
    const line = await Promise.race([
      lines.next(),
      exited.then(([code, signal]) => {
        throw new Error(`${SCRIPT} exited (code ${String(code)}, signal ${String(signal)}) while ${what}`);
      }),
    ]);
    if (line.done) throw new Error(`${SCRIPT} closed its output while ${what}`);
    const parsed = JSON.parse(line.value) as Record<string, unknown>;
    if (typeof parsed.error === 'string') throw new Error(`${SCRIPT}: ${parsed.error}`);
    return parsed;
  };
  const timer = setTimeout(() => child.kill('SIGKILL'), READY_TIMEOUT_MS);
  const ready = await next('starting').finally(() => clearTimeout(timer));
  return {
    pid: child.pid!,
    python: String(ready.python),
    itersPerMs: Number(ready.itersPerMs),
    async run(side, ms, n) {
      child.stdin.write(`${JSON.stringify({ side, ms, n })}\n`);
      return (await next(`running ${side} ${ms} ms x ${n}`)) as unknown as PythonRun;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin.end();
      const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited.catch(() => undefined);
      clearTimeout(kill);
    },
  };
}
