// tasks.ts
import { defineTask } from '@taskpool/core/task';
import { z } from 'zod';

export const sumSqrt = defineTask({
  name: 'math.sumSqrt',
  input: z.object({ n: z.number().int().positive() }),
  output: z.object({ sum: z.number(), pid: z.number() }),
  defaults: { attempts: 3 },
  run: async ({ n }) => { let s = 0; for (let i = 0; i < n; i++) s += Math.sqrt(i); return { sum: s, pid: process.pid }; },
});
