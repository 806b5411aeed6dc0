import { createHash } from 'node:crypto';

/** A random number generator in [0, 1) seeded by a number and a name (mulberry32), so a run's faults can be replayed. */
export function seededRandom(seed: number, name: string): () => number {
  let state = (seed ^ createHash('sha256').update(name).digest().readUInt32LE(0)) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
