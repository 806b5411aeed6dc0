import { readFileSync } from 'node:fs';

const CLOCK_TICKS_PER_SECOND = 100;

/** CPU time a process has used, in ms (Linux `/proc/<pid>/stat`), or undefined where that can't be read. */
function readCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1_000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** Samples processes' RSS and CPU use; CPU is the share of one core since the previous sample. */
export class ProcessStats {
  private readonly last = new Map<number, { cpuMs: number; at: number }>();

  /** RSS in MiB and CPU percent of a process (0 where /proc can't be read). */
  sample(pid: number): { rssMb: number; cpuPercent: number } {
    const rssMb = Math.round(readRssMb(pid) ?? 0);
    const cpuMs = readCpuMs(pid);
    const now = Date.now();
    const previous = this.last.get(pid);
    let cpuPercent = 0;
    if (cpuMs !== undefined) {
      if (previous && now > previous.at) cpuPercent = Math.round(((cpuMs - previous.cpuMs) / (now - previous.at)) * 100);
      this.last.set(pid, { cpuMs, at: now });
    }
    return { rssMb, cpuPercent: Math.max(0, cpuPercent) };
  }

  /** Forgets processes that are gone. */
  retain(pids: Iterable<number>): void {
    const keep = new Set(pids);
    for (const pid of this.last.keys()) if (!keep.has(pid)) this.last.delete(pid);
  }
}

/** A process's resident set size in MiB (Linux `/proc`), or undefined where that can't be read. */
export function readRssMb(pid: number): number | undefined {
  try {
    const statm = readFileSync(`/proc/${pid}/statm`, 'utf8');
    const pages = Number(statm.split(' ')[1]);
    return (pages * PAGE_BYTES) / 1_048_576;
  } catch {
    return undefined;
  }
}

const PAGE_BYTES = 4_096;
