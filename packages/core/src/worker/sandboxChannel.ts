import { fork } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import type { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { tsxLoaderFor, typeScriptLoaderFor, type TypeScriptLoader } from '../typeScriptSupport.ts';
import type { SandboxSettings, ToSandbox } from './sandboxProtocol.ts';

/** `.js` in the build; `.ts` when taskpool itself runs from its sources (its own tests). */
const OWN_EXTENSION = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const SANDBOX_MAIN = fileURLToPath(new URL(`./sandboxMain${OWN_EXTENSION}`, import.meta.url));
const THREAD_BOOT = fileURLToPath(new URL('./sandboxThreadBoot.mjs', import.meta.url));

/**
 * How a sandbox loads its entry and the task module: as the task module needs (see `typeScriptLoaderFor`),
 * and with tsx whatever the module when taskpool runs from its TypeScript sources.
 */
function sandboxLoader(modulePath: string): TypeScriptLoader {
  return OWN_EXTENSION === '.js' ? typeScriptLoaderFor(modulePath) : tsxLoaderFor(SANDBOX_MAIN);
}

/**
 * What a supervisor holds of a sandbox, a child process or a worker thread alike. Emits `message`
 * (a `FromSandbox`), `exit` (code, signal) and `error` (a failed kill or send: the supervisor must listen,
 * or the error would take the worker down); a thread that dies of an error emits `thread-error` with its
 * text, then `exit` with code 1.
 */
export interface SandboxChannel extends EventEmitter {
  /** The OS process it runs in (a thread: the worker's own pid). */
  readonly pid: number;
  readonly connected: boolean;
  /** The handler's `console.log` and `process.stdout` output: piped to the supervisor, never inherited. */
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** Sends a message; a send that fails (closed channel, EPIPE) calls `onError` instead of throwing. */
  send(message: ToSandbox, onError?: (error: Error) => void): void;
  kill(signal?: NodeJS.Signals): void;
}

/** How to fork a sandbox process. */
export interface ForkOptions {
  /** Extra Node flags. */
  execArgv: string[];
  /** The Node binary. Default: the worker's own (`process.execPath`). */
  execPath?: string;
}

/**
 * Forks a sandbox process and waits until the OS has started it. A fork the OS refuses (EAGAIN, ENOMEM,
 * a missing binary) rejects with the system's error; it never reaches the worker as an unhandled `error`.
 */
export async function forkSandbox(modulePath: string, settings: SandboxSettings, options: ForkOptions): Promise<SandboxChannel> {
  const loader = sandboxLoader(modulePath);
  const child = fork(SANDBOX_MAIN, [modulePath, JSON.stringify(settings)], {
    execArgv: [...(loader.kind === 'javascript' ? [] : loader.execArgv), ...options.execArgv],
    ...(options.execPath !== undefined && { execPath: options.execPath }),
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  // Never without an 'error' listener, which would let an error crash the worker: this one covers the moment
  // between 'spawn' and the supervisor's own (SandboxProcess), whose effect (an exit) is still seen.
  child.on('error', () => undefined);
  // `once` rejects on an 'error' before 'spawn'.
  await once(child, 'spawn');
  const pid = child.pid ?? -1;
  const send = child.send.bind(child);
  return Object.assign(child, {
    pid,
    send: (message: ToSandbox, onError?: (error: Error) => void): void => {
      try {
        send(message, (error: Error | null) => {
          if (error) onError?.(error);
        });
      } catch (error) {
        onError?.(error as Error);
      }
    },
  }) as unknown as SandboxChannel;
}

/** Starts a sandbox thread; `maxMemoryMb` caps its V8 heap (Node's `resourceLimits`). */
export function startSandboxThread(modulePath: string, settings: SandboxSettings, maxMemoryMb?: number): SandboxChannel {
  return new ThreadChannel(
    new Worker(THREAD_BOOT, {
      workerData: { entry: pathToFileURL(SANDBOX_MAIN).href, modulePath, settings, tsxApi: threadTsxApi(modulePath) },
      stdout: true,
      stderr: true,
      ...(maxMemoryMb !== undefined && { resourceLimits: { maxOldGenerationSizeMb: maxMemoryMb } }),
    }),
  );
}

/** tsx's API for a thread's boot when the sandbox needs tsx: threads don't inherit a loader registered by `--import`. */
function threadTsxApi(modulePath: string): string | undefined {
  const loader = sandboxLoader(modulePath);
  return loader.kind === 'tsx' ? loader.apiUrl : undefined;
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

  get stdout(): Readable {
    return this.worker.stdout;
  }

  get stderr(): Readable {
    return this.worker.stderr;
  }

  send(message: ToSandbox, onError?: (error: Error) => void): void {
    if (!this.alive) return;
    try {
      this.worker.postMessage(message);
    } catch (error) {
      onError?.(error as Error);
    }
  }

  /** Terminates the thread (V8 stops even a busy loop); reported as killed by the given signal. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (!this.alive) return;
    this.killedWith = signal;
    void this.worker.terminate();
  }
}
