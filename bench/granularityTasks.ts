/** The task of `bench/granularity.ts`: a calibrated busy loop, no allocation, in a sandbox process (the default). */
import { defineTask } from '@taskpool/core/task';
import { z } from 'zod';

/**
 * `iterations` steps of a 30-bit linear congruential generator (its state stays a small integer, a V8 Smi);
 * returns its last value, so no step can be optimised away. The same loop as `spin` in `bench/granularity.py`.
 */
export function spinLoop(iterations: number): number {
  let x = 1;
  for (let i = 0; i < iterations; i++) x = (Math.imul(x, 1103515245) + 12345) & 0x3fffffff;
  return x;
}

export const spin = defineTask({
  name: 'bench.spin',
  input: z.object({ iterations: z.number().int().min(0) }),
  output: z.object({ x: z.number().int() }),
  defaults: { queue: 'bench-granularity' },
  run: ({ iterations }) => ({ x: spinLoop(iterations) }),
});
