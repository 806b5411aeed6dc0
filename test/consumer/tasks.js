// tasks.js: the task module of the quick start, plain ESM JavaScript. `taskpool-worker --tasks tasks.js`
// serves every task exported here; `taskpool-producer --tasks tasks.js` accepts them over HTTP.
// (`@taskpool/core/task` holds what a task module needs, so sandboxes load no Redis client.)
import { defineTask } from '@taskpool/core/task';
import { z } from 'zod';

/** CPU-bound: the sum of the square roots of 0..n-1, and which process (and Node) computed it. */
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

/** One step of a fan-out. */
export const square = defineTask({
  name: 'math.square',
  input: z.object({ n: z.number() }),
  output: z.number(),
  run: ({ n }) => n * n,
});

/** Fan-in: a chord's callback gets its group's outputs, in order. */
export const total = defineTask({
  name: 'math.total',
  input: z.array(z.number()),
  output: z.number(),
  run: (values) => values.reduce((a, b) => a + b, 0),
});
