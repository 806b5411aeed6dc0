import { readFileSync } from 'node:fs';

/** A process killed while the log was written: its runs still open end at line `atLine` (a count taken after the kill). */
export interface KilledWriter {
  pid: string;
  atLine: number;
}

/**
 * Replays a log of `S <key> <n> [<ms> <pid>]` (a run started) and `E <key> <n> [...]` (it ended) lines, written by
 * appends in time order from any number of processes: its lines, and the most runs at once in all and per key. The
 * runs of a `killed` process that never ended end where the kill was seen (at the latest).
 */
export function replayRuns(log: string, killed: readonly KilledWriter[] = []): { lines: string[][]; maxAll: number; maxPerKey: Map<string, number> } {
  const lines = readFileSync(log, 'utf8').trim().split('\n').map((line) => line.split(' '));
  let running = 0;
  let maxAll = 0;
  const perKey = new Map<string, number>();
  const maxPerKey = new Map<string, number>();
  const open = new Map<string, { key: string; pid: string | undefined }>();
  const move = (key: string, delta: number): void => {
    running += delta;
    perKey.set(key, (perKey.get(key) ?? 0) + delta);
    maxAll = Math.max(maxAll, running);
    maxPerKey.set(key, Math.max(maxPerKey.get(key) ?? 0, perKey.get(key)!));
  };
  lines.forEach(([what, key, n, , pid], i) => {
    for (const kill of killed) {
      if (kill.atLine !== i) continue;
      for (const [run, entry] of open) {
        if (entry.pid !== kill.pid) continue;
        open.delete(run);
        move(entry.key, -1);
      }
    }
    const run = `${key} ${n}`;
    if (what === 'S') {
      open.set(run, { key: key!, pid });
      move(key!, 1);
    } else if (open.delete(run)) {
      move(key!, -1);
    }
  });
  return { lines, maxAll, maxPerKey };
}
