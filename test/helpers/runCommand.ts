import { execFile } from 'node:child_process';

/** How a command that ran to its end (or was killed at its timeout) ended. */
export interface CommandRun {
  /** The exit code; -1 when it was killed or could not start. */
  code: number;
  stdout: string;
  stderr: string;
  /** Wall time, ms. */
  ms: number;
}

/** Options of {@link runCommand}. */
export interface RunCommandOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Killed (SIGTERM) past this. Default: 120000 ms. */
  timeoutMs?: number;
}

/** Runs a command to its end and resolves with its exit code and output (it never rejects). */
export function runCommand(file: string, args: string[], options: RunCommandOptions): Promise<CommandRun> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(file, args, { cwd: options.cwd, env: options.env, timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr, ms: Date.now() - started }),
    );
  });
}

/** A one-line summary of a run for assertion messages: the command's exit code and the tail of its output. */
export function describeRun(what: string, run: CommandRun): string {
  return `${what} exited ${run.code} after ${run.ms} ms\nstdout: ${run.stdout.slice(-3000)}\nstderr: ${run.stderr.slice(-3000)}`;
}
