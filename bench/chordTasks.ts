/** Tasks of the chord benchmark: no-op members and a callback that sums them, both on the worker's event loop. */
import { defineTask } from '@taskpool/core';
import { z } from 'zod';

/** A chord member: gives back its number. */
export const chordMember = defineTask({
  name: 'bench.chordMember',
  input: z.object({ i: z.number().int() }),
  output: z.object({ i: z.number().int() }),
  defaults: { queue: 'bench-chord', isolation: 'inline' },
  run: ({ i }) => ({ i }),
});

/** The chord's callback: sums the members' numbers. */
export const chordSum = defineTask({
  name: 'bench.chordSum',
  input: z.array(z.object({ i: z.number().int() })),
  output: z.number(),
  defaults: { queue: 'bench-chord', isolation: 'inline' },
  run: (items) => items.reduce((sum, { i }) => sum + i, 0),
});
