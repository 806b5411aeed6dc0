import { Worker } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { LeanWorker } from './leanWorker.ts';

// The lean lane overrides methods of BullMQ's Worker that are not its public API. A BullMQ upgrade that renames
// one would silently turn the lane off (or, for `updateDelays`, skip a reset): this fails first.
describe('LeanWorker', () => {
  it("overrides BullMQ's Worker methods that still exist under these names", () => {
    const methods = ['moveToActive', 'nextJobFromJobData', 'handleCompleted', 'processJob', 'updateDelays', 'createJob', 'close'] as const;
    for (const name of methods) expect(typeof (Worker.prototype as unknown as Record<string, unknown>)[name], name).toBe('function');
    for (const name of ['moveToActive', 'handleCompleted', 'processJob', 'close'] as const) {
      expect(Object.hasOwn(LeanWorker.prototype, name), name).toBe(true);
    }
  });
});
