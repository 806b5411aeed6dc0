import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { BenchContext } from './benchmark.ts';
import { childPids } from './processUsage.ts';

/** The worker sides the latency and map benchmarks compare (see `queueWorkerChild.ts`). */
export type WorkerSide = 'taskpool-process' | 'taskpool-thread' | 'taskpool-inline' | 'taskpool-chord' | 'bullmq-inline' | 'bullmq-sandboxed' | 'bullmq-flow';

/** A worker process of one side. */
export interface QueueWorker {
  pid: number;
  /** SIGTERM; resolves once it has exited (SIGKILL after 10 s). */
  stop(): Promise<void>;
}

const CHILD = fileURLToPath(new URL('./queueWorkerChild.ts', import.meta.url));
const TSX = createRequire(import.meta.url).resolve('tsx');

/** How to run the worker process under another program, e.g. `perf stat` or valgrind (see `instructionCount.ts`). */
export interface WorkerWrapper {
  /** The command and its arguments, before `node ...`. */
  command: string[];
  /** Signal the wrapper's child (the node process) to stop, not the wrapper itself (`perf stat` dies on SIGTERM without a report). */
  signalChild: boolean;
  /** How long stop() waits after SIGTERM before SIGKILL, ms. */
  stopGraceMs: number;
}

/**
 * Starts `queueWorkerChild.ts` for one side and queue, and resolves once it serves. `fetch` sets taskpool's `fetch`
 * option (default: the worker's).
 */
export async function startQueueWorker(ctx: BenchContext, side: WorkerSide, queue: string, concurrency: number, wrapper?: WorkerWrapper, fetch?: 'supervisor' | 'sandbox'): Promise<QueueWorker> {
  // BENCH_WORKER_NODE_ARGS, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`, to profile a worker process while it runs.
  const nodeArgs = process.env.BENCH_WORKER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const [command, ...prefix] = wrapper ? [...wrapper.command, process.execPath] : [process.execPath];
  const child = spawn(command!, [...prefix, ...nodeArgs, '--import', TSX, CHILD, side, queue], {
    cwd: ctx.root,
    env: { ...process.env, REDIS_URL: ctx.redisUrl, PREFIX: ctx.prefix, CONCURRENCY: String(concurrency), ...(fetch !== undefined && { FETCH: fetch }) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const killOnExit = (): void => {
    if (wrapper?.signalChild) for (const pid of childPids(child.pid!, '')) process.kill(pid, 'SIGKILL');
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const exited = once(child, 'exit').finally(() => process.removeListener('exit', killOnExit));
  const lines = createInterface({ input: child.stdout });
  await new Promise<void>((resolve, reject) => {
    lines.on('line', (line) => line === 'ready' && resolve());
    void exited.then(([code, signal]) => reject(new Error(`${side} worker exited (code ${String(code)}, signal ${String(signal)}) before it was ready`)));
  });
  return {
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const node = wrapper?.signalChild ? childPids(child.pid!, '')[0] : undefined;
      if (node === undefined) child.kill('SIGTERM');
      else process.kill(node, 'SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), wrapper?.stopGraceMs ?? 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
