/** Tasks of the `objectsByReference` benchmark: the sum of a buffer's bytes, given by reference or inline (base64). */
import { defineTask, objectRef } from '@taskpool/core/task';
import { z } from 'zod';

function sum(bytes: Uint8Array): number {
  let total = 0;
  for (let i = 0; i < bytes.length; i++) total += bytes[i]!;
  return total;
}

/** Reads the buffer through the machine's object cache (`ctx.get`). */
export const sumByRef = defineTask({
  name: 'bench.sumByRef',
  input: z.object({ data: objectRef<Buffer>() }),
  output: z.number(),
  defaults: { queue: 'bench-objects' },
  run: async ({ data }, ctx) => sum(await ctx.get(data)),
});

/** Gets the buffer in its input, base64 (what a task does without references). */
export const sumInline = defineTask({
  name: 'bench.sumInline',
  input: z.object({ data: z.string() }),
  output: z.number(),
  defaults: { queue: 'bench-objects' },
  run: ({ data }) => sum(Buffer.from(data, 'base64')),
});

/** A result of `mb` MiB (a string): carried by reference or inline as the worker's `TASKPOOL_INLINE_MAX_BYTES` says. */
export const bigResult = defineTask({
  name: 'bench.bigResult',
  input: z.object({ mb: z.number().positive() }),
  output: z.string(),
  defaults: { queue: 'bench-objects' },
  run: ({ mb }) => 'r'.repeat(Math.round(mb * 1024 * 1024)),
});

/** Busy for `ms` (a baseline of the same length as a task that reads a big object, without the object). */
export const spin = defineTask({
  name: 'bench.spin',
  input: z.object({ ms: z.number().min(0) }),
  output: z.number(),
  defaults: { queue: 'bench-objects' },
  run: ({ ms }) => {
    const until = performance.now() + ms;
    while (performance.now() < until);
    return 0;
  },
});
