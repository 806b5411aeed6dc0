// tasks.js
import { defineTask } from '@taskpool/core/task';
import { z } from 'zod';

export const sumSqrt = defineTask({
  name: 'math.sumSqrt',
  input: z.object({ n: z.number().int().positive() }),
  output: z.object({ sum: z.number(), pid: z.number(), node: z.string() }),
  defaults: { attempts: 3 },
  run: async ({ n }) => {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += Math.sqrt(i);
    return { sum, pid: process.pid, node: process.version };
  },
});

export const square = defineTask({ name: 'math.square', input: z.object({ n: z.number() }), output: z.number(), run: ({ n }) => n * n });

export const total = defineTask({
  name: 'math.total',
  input: z.array(z.number()),
  output: z.number(),
  run: (values) => values.reduce((a, b) => a + b, 0),
});
