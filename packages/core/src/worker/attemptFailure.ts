import type { SerializedError } from '../serializeError.ts';

/** An attempt that failed in or with its sandbox, carrying the structured error to record on the job. */
export class AttemptFailure extends Error {
  override name = 'AttemptFailure';
  constructor(readonly serialized: SerializedError) {
    super(serialized.message);
    if (serialized.stack) this.stack = serialized.stack;
  }
}
