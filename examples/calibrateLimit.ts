import { performance } from 'node:perf_hooks';
import { countPrimesBelow } from './tasks.ts';

/** What {@link calibrateLimit} found. */
export interface Calibration {
  /** The `limit` of `countPrimesBelow` that takes about `targetMs` here. */
  limit: number;
  /** How long one call with that limit took (the fastest of five). */
  msPerCall: number;
}

const START_LIMIT = 100_000;
const TOLERANCE = 0.05;
const MAX_STEPS = 8;
// countPrimesBelow(n) costs about n^1.4 (trial division up to sqrt(n), fewer steps for composites).
const COST_EXPONENT = 1.4;

/**
 * Finds the `limit` for which one `countPrimesBelow(limit)` takes about `targetMs` in this process.
 * Each step times the fastest of five calls (the fastest is the one least disturbed by other processes),
 * so it also warms the JIT up for a serial run that follows. On a busy machine it still finds too low a limit.
 */
export function calibrateLimit(targetMs = 50): Calibration {
  let limit = START_LIMIT;
  let msPerCall = timeCall(limit);
  for (let step = 0; step < MAX_STEPS && Math.abs(msPerCall - targetMs) > targetMs * TOLERANCE; step++) {
    limit = Math.max(1_000, Math.round(limit * (targetMs / msPerCall) ** (1 / COST_EXPONENT)));
    msPerCall = timeCall(limit);
  }
  return { limit, msPerCall };
}

function timeCall(limit: number): number {
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    countPrimesBelow(limit);
    best = Math.min(best, performance.now() - started);
  }
  return best;
}
