import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** What Linux says a process uses now. */
export interface ProcessUsage {
  /** Resident set size (VmRSS), in MiB. */
  rssMiB: number;
  /** User + system CPU time so far, in ms (10 ms resolution with the usual 100 ticks a second). */
  cpuMs: number;
  /** The same, of its children that have exited and been waited for. */
  childrenCpuMs: number;
}

let msPerTick: number | undefined;

function tickMs(): number {
  msPerTick ??= 1000 / (Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100);
  return msPerTick;
}

/** Reads `/proc/<pid>/status` and `/proc/<pid>/stat` (Linux only). */
export function processUsage(pid: number | 'self'): ProcessUsage {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch (error) {
    throw new Error(`Process ${pid} is gone (did a sandbox crash or get replaced during the benchmark?)`, { cause: error });
  }
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!rss) throw new Error(`No VmRSS in /proc/${pid}/status`);
  // The command name (field 2) may hold spaces and parentheses; the fields after it are fixed.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  // Fields 14-17 of stat (utime, stime, cutime, cstime) are 11-14 counted from the state (field 3).
  const [utime = 0, stime = 0, cutime = 0, cstime = 0] = fields.slice(11, 15);
  return { rssMiB: Number(rss[1]) / 1024, cpuMs: (utime + stime) * tickMs(), childrenCpuMs: (cutime + cstime) * tickMs() };
}

/** The CPU time of several processes together, in ms. */
export function cpuMsOf(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + processUsage(pid).cpuMs, 0);
}

/** CPU time every process of the machine has used since boot, summed over cores, in ms; steal counts as used. */
export function machineBusyMs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  // cpu user nice system idle iowait irq softirq steal guest guest_nice
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq + steal) * tickMs();
}

/** The pids of a process's live children whose command line contains `match` (Linux: scans `/proc`). */
export function childPids(parent: number, match: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The parent pid is field 4, the second after the command name.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(match)) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

/** The CPU time of those of `pids` still alive, in ms: a process that ended (or was replaced) counts as 0. */
export function liveCpuMs(pids: readonly number[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const pid of pids) {
    try {
      out[pid] = processUsage(pid).cpuMs;
    } catch {
      // gone
    }
  }
  return out;
}

/** CPU ms spent between two {@link liveCpuMs} readings, over the processes alive at both. */
export function cpuMsBetween(before: Record<number, number>, after: Record<number, number>): number {
  let sum = 0;
  for (const [pid, ms] of Object.entries(after)) if (pid in before) sum += ms - before[Number(pid)]!;
  return sum;
}
