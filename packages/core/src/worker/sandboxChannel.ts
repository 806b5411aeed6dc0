import { fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ToSandbox } from './sandboxProtocol.ts';

const SANDBOX_MAIN = fileURLToPath(new URL('./sandboxMain.ts', import.meta.url));
const THREAD_BOOT = fileURLToPath(new URL('./sandboxThreadBoot.mjs', import.meta.url));
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/**
 * What a supervisor holds of a sandbox, a child process or a worker thread alike. Emits `message`
 * (a `FromSandbox`) and `exit` (code, signal); a thread that dies of an error emits `exit` with code 1
 * after writing the error to `stderr`-like `fatalText`.
 */
export interface SandboxChannel extends EventEmitter {
  /** The OS process it runs in (a thread: the worker's own pid). */
  readonly pid: number;
  readonly connected: boolean;
  readonly stderr: Readable | null;
  send(message: ToSandbox): void;
  kill(signal?: NodeJS.Signals): void;
}

/** Forks a sandbox process. */
export function forkSandbox(modulePath: string, execArgv: string[]): SandboxChannel {
  const child = fork(SANDBOX_MAIN, [modulePath], {
    execArgv: ['--import', TSX_LOADER, ...execArgv],
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  if (child.pid === undefined) throw new Error('Could not fork a sandbox process');
  return Object.assign(child, { pid: child.pid }) as unknown as SandboxChannel;
}

/** Starts a sandbox thread; `maxMemoryMb` caps its V8 heap (Node's `resourceLimits`). */
export function startSandboxThread(modulePath: string, maxMemoryMb?: number): SandboxChannel {
  return new ThreadChannel(
    new Worker(THREAD_BOOT, {
      workerData: { entry: pathToFileURL(SANDBOX_MAIN).href, modulePath },
      stderr: true,
      ...(maxMemoryMb !== undefined && { resourceLimits: { maxOldGenerationSizeMb: maxMemoryMb } }),
    }),
  );
}

class ThreadChannel extends EventEmitter implements SandboxChannel {
  readonly pid = process.pid;
  private alive = true;

  constructor(private readonly worker: Worker) {
    super();
    worker.on('message', (message: unknown) => this.emit('message', message));
    worker.on('error', (error: Error & { code?: string }) => {
      // An uncaught error ends the thread: say so where the supervisor looks for a cause.
      const text = error.code === 'ERR_WORKER_OUT_OF_MEMORY' ? `Reached heap limit: ${error.message}` : `${error.name}: ${error.message}`;
      this.emit('thread-error', text);
    });
    worker.on('exit', (code: number) => {
      this.alive = false;
      this.emit('exit', code, this.killedWith ?? null);
    });
  }

  private killedWith: NodeJS.Signals | undefined;

  get connected(): boolean {
    return this.alive;
  }

  get stderr(): Readable {
    return this.worker.stderr;
  }

  send(message: ToSandbox): void {
    if (this.alive) this.worker.postMessage(message);
  }

  /** Terminates the thread (V8 stops even a busy loop); reported as killed by the given signal. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (!this.alive) return;
    this.killedWith = signal;
    void this.worker.terminate();
  }
}
