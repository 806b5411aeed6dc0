/** Tasks of the flow-control benchmark (`keyedLimit.ts`): no work, inline, with and without a keyed limit. */
import { defineTask } from '@taskpool/core/task';
import { z } from 'zod';

const io = { input: z.object({ i: z.number().int(), key: z.string() }), output: z.object({ i: z.number().int() }) };

/** No limit. */
export const free = defineTask({ name: 'bench.flowFree', ...io, defaults: { queue: 'flow-free', isolation: 'inline' }, run: ({ i }) => ({ i }) });

/** At most 10 jobs of one key admitted at once, across all workers. */
export const keyed = defineTask({
  name: 'bench.flowKeyed',
  ...io,
  defaults: { queue: 'flow-keyed', isolation: 'inline', concurrency: { key: (input) => input.key, limit: 10 } },
  run: ({ i }) => ({ i }),
});
