/** Tasks of the latency and map-throughput benchmarks: no work at all, so what is measured is the pipeline. */
import { defineTask } from '@taskpool/core/task';
import { z } from 'zod';

const io = { input: z.object({ i: z.number().int() }), output: z.object({ i: z.number().int() }) };

/** Runs in a sandbox process (taskpool's default isolation). */
export const noop = defineTask({ name: 'bench.noop', ...io, defaults: { queue: 'bench-process' }, run: ({ i }) => ({ i }) });

/** Runs in a worker thread of the worker (`isolation: 'thread'`). */
export const noopThread = defineTask({ name: 'bench.noopThread', ...io, defaults: { queue: 'bench-thread', isolation: 'thread' }, run: ({ i }) => ({ i }) });

/** Runs on the worker's own event loop (`isolation: 'inline'`), as a BullMQ processor function does. */
export const noopInline = defineTask({ name: 'bench.noopInline', ...io, defaults: { queue: 'bench-inline', isolation: 'inline' }, run: ({ i }) => ({ i }) });
