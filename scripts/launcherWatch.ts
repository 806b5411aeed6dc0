import { readFileSync } from 'node:fs';
import { isAlive } from './isAlive.ts';

/** How many parents up the launching `npm` may be (start.ts ← npm with `npm start`; a shell or the tsx CLI may sit between). */
const MAX_DEPTH = 5;
const CHECK_EVERY_MS = 500;

/**
 * Calls `onGone` once when the process that launched this one exits without stopping it: `npm start` that got
 * SIGTERM or SIGINT on its own pid (a supervisor, `timeout`, `kill <npm pid>`) ends without passing it on, and
 * leaves this script running with everything it started. Watches each process between this one and
 * the nearest `npm` above it (read from Linux's `/proc`); without `/proc` or without `npm` above, only the
 * parent. Returns the stop function. The timer does not keep the process alive.
 */
export function watchLauncher(onGone: (pid: number) => void): () => void {
  const chain = launcherChain();
  const timer = setInterval(() => {
    const gone = chain.find((pid) => !isAlive(pid));
    if (gone === undefined) return;
    clearInterval(timer);
    onGone(gone);
  }, CHECK_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/** The parent, and up to the nearest `npm` above it, nearest first. */
function launcherChain(): number[] {
  const chain: number[] = [];
  let pid = process.ppid;
  for (let depth = 0; depth < MAX_DEPTH && pid > 1; depth++) {
    const stat = procStat(pid);
    if (!stat) break;
    chain.push(pid);
    if (stat.command.startsWith('npm')) return chain;
    pid = stat.ppid;
  }
  return [process.ppid];
}

/** A process's command name and parent from `/proc/<pid>/stat`; undefined where there is no such file. */
function procStat(pid: number): { command: string; ppid: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // `pid (comm) state ppid ...`; comm may hold spaces and parentheses: it ends at the last ')'.
    const end = text.lastIndexOf(')');
    const ppid = Number(text.slice(end + 2).split(' ')[1]);
    return { command: text.slice(text.indexOf('(') + 1, end), ppid };
  } catch {
    return undefined;
  }
}

