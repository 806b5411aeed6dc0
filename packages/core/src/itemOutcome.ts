import type { SerializedError } from './serializeError.ts';

/**
 * One item's outcome in a `map` chunk. A chunk job (`kind: 'chunk'` in its data, see `jobData.ts`) runs its
 * items in order and returns one outcome per item, as one encoded array: each item succeeds or fails on its
 * own, and the chunk job completes even when some items failed. A chunk whose sandbox dies fails as a whole
 * and is retried as a whole.
 */
export type ItemOutcome = { ok: true; value: unknown } | { ok: false; error: SerializedError };
