import type { SerializedError } from './serializeError.ts';

/**
 * `map` with `chunkSize > 1` packs several inputs into one job. The job keeps the task's name; its data is
 * `{ $chunk: inputs }`, and its return value `{ $chunk: outcomes }`, one outcome per input in order.
 * Each item succeeds or fails on its own: a chunk job completes even when some items failed. A chunk
 * whose sandbox dies fails as a whole and is retried as a whole.
 */
export interface ChunkData {
  $chunk: unknown[];
}

/** One item's outcome in a chunk. */
export type ItemOutcome = { ok: true; value: unknown } | { ok: false; error: SerializedError };

/** The return value of a chunk job. */
export interface ChunkResult {
  $chunk: ItemOutcome[];
}

/** True for a chunk job's data. */
export function isChunkData(data: unknown): data is ChunkData {
  return typeof data === 'object' && data !== null && Array.isArray((data as { $chunk?: unknown }).$chunk);
}
