import { fork } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const CHILD = fileURLToPath(new URL('./countPrimesChild.ts', import.meta.url));
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/**
 * The machine's own ceiling for a pool: `processes` bare Node processes (no Redis, no supervisor) share
 * `calls` x `countPrimesBelow(limit)` evenly. Resolves with the wall time from `go` to the last one done;
 * their start-up and warm-up are not counted.
 */
export async function bareParallel(processes: number, calls: number, limit: number): Promise<number> {
  const share = Math.ceil(calls / processes);
  const children = Array.from({ length: processes }, () =>
    fork(CHILD, [String(limit), String(share)], { execArgv: ['--import', TSX_LOADER], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  try {
    await Promise.all(children.map((child) => once(child, 'message')));
    const done = children.map((child) => once(child, 'message'));
    const started = performance.now();
    for (const child of children) child.send('go');
    await Promise.all(done);
    return performance.now() - started;
  } finally {
    // Wait for the exits too, so their CPU time is in this process's children's time when the caller reads it.
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.kill();
        await exited;
      }),
    );
  }
}
