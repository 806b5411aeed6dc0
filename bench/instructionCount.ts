/**
 * Instructions per job of a worker process and its children (sandboxes), counted by `perf stat -e instructions`
 * where the CPU's counters are visible, else by valgrind's callgrind (`Ir`, about 50× slower to run). Turned on
 * by `BENCH_PERF`: `1` picks whichever works, `perf` or `callgrind` forces one. Steadier than wall or CPU time
 * on a shared VM: a count does not depend on what else the machine runs.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkerWrapper } from './startQueueWorker.ts';

export type CounterKind = 'perf' | 'callgrind';

/** A counter ready for one worker run: wrap the worker with `wrapper`, then `read()` once it has exited. */
export interface InstructionCounter {
  kind: CounterKind;
  wrapper: WorkerWrapper;
  /** Instructions counted over the wrapped process and all its children; the number of processes counted. */
  read(): Promise<{ instructions: number; processes: number }>;
  dispose(): Promise<void>;
}

/** `perf stat -e instructions -x, true` counts here (false on most VMs: no PMU, `<not supported>`). */
export function perfCountsInstructions(): boolean {
  const probe = spawnSync('perf', ['stat', '-e', 'instructions', '-x,', 'true'], { encoding: 'utf8' });
  return probe.status === 0 && /^\d+,[^,]*,instructions/m.test(probe.stderr);
}

function valgrindWorks(): boolean {
  return spawnSync('valgrind', ['--version'], { encoding: 'utf8' }).status === 0;
}

/** What `BENCH_PERF` asks for and this machine can do: a kind, or why none. */
export function counterFromEnv(): { kind: CounterKind } | { off: string } {
  const asked = process.env.BENCH_PERF;
  if (!asked || asked === '0') return { off: 'not asked (BENCH_PERF=1, perf or callgrind counts instructions per job)' };
  const perf = perfCountsInstructions();
  const valgrind = valgrindWorks();
  if (asked === 'perf') return perf ? { kind: 'perf' } : { off: '`perf stat -e instructions` is not supported here (no hardware counters visible)' };
  if (asked === 'callgrind') return valgrind ? { kind: 'callgrind' } : { off: 'valgrind is not installed' };
  if (perf) return { kind: 'perf' };
  if (valgrind) return { kind: 'callgrind' };
  return { off: 'neither `perf stat -e instructions` nor valgrind works here' };
}

/** A counter of `kind` writing into a temp dir of its own. */
export async function createInstructionCounter(kind: CounterKind): Promise<InstructionCounter> {
  const dir = await mkdtemp(join(tmpdir(), 'taskpool-instructions-'));
  const wrapper: WorkerWrapper =
    kind === 'perf'
      ? // perf stat counts the children too (inherit is its default).
        { command: ['perf', 'stat', '-e', 'instructions', '-x,', '-o', join(dir, 'perf.csv'), '--'], signalChild: true, stopGraceMs: 30_000 }
      : {
          command: ['valgrind', '-q', '--tool=callgrind', '--trace-children=yes', '--trace-children-skip=*esbuild*', `--callgrind-out-file=${join(dir, 'callgrind.out.%p')}`],
          signalChild: false,
          // Every process under callgrind is slow to close; a SIGKILL would lose its counts.
          stopGraceMs: 300_000,
        };
  return {
    kind,
    wrapper,
    async read() {
      if (kind === 'perf') {
        const text = await readFile(join(dir, 'perf.csv'), 'utf8');
        const line = /^([^,]*),[^,]*,instructions/m.exec(text);
        const count = Number(line?.[1]);
        if (!line || !Number.isFinite(count)) throw new Error(`perf counted no instructions: ${text.trim()}`);
        return { instructions: count, processes: 1 };
      }
      let instructions = 0;
      let processes = 0;
      for (const file of (await readdir(dir)).filter((f) => f.startsWith('callgrind.out.'))) {
        const text = await readFile(join(dir, file), 'utf8');
        // `summary:` (or `totals:`) holds the event counts of the whole run; the first event is Ir.
        const total = /^(?:summary|totals):\s+(\d+)/m.exec(text);
        if (!total) continue;
        instructions += Number(total[1]);
        processes++;
      }
      if (processes === 0) throw new Error(`callgrind wrote no counts in ${dir}`);
      return { instructions, processes };
    },
    async dispose() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}
