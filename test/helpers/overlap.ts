import { readFileSync } from 'node:fs';

/**
 * Replays a log of `S <key> <n>` (a run started) and `E <key> <n>` (it ended) lines, written by appends in time
 * order from any number of processes: its lines, and the most runs at once in all and per key.
 */
export function replayRuns(log: string): { lines: string[][]; maxAll: number; maxPerKey: Map<string, number> } {
  const lines = readFileSync(log, 'utf8').trim().split('\n').map((line) => line.split(' '));
  let running = 0;
  let maxAll = 0;
  const perKey = new Map<string, number>();
  const maxPerKey = new Map<string, number>();
  for (const [what, key] of lines) {
    const delta = what === 'S' ? 1 : -1;
    running += delta;
    perKey.set(key!, (perKey.get(key!) ?? 0) + delta);
    maxAll = Math.max(maxAll, running);
    maxPerKey.set(key!, Math.max(maxPerKey.get(key!) ?? 0, perKey.get(key!)!));
  }
  return { lines, maxAll, maxPerKey };
}
