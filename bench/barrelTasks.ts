/**
 * The example tasks as a task module that imports the `@taskpool/core` barrel, as task modules did before
 * `@taskpool/core/task`: every sandbox then loads BullMQ, ioredis and pino. `idleMemory.ts` measures both.
 */
import '@taskpool/core';

export * from '../examples/tasks.ts';
