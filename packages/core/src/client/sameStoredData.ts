import stableStringify from 'safe-stable-stringify';
import type { Ref } from '../objects/objectRef.ts';

/**
 * True when a job's stored data (the `data` field of its hash) holds the same value as `data`, whatever the
 * order of their keys: an idempotent submit repeated with `{ b, a }` for `{ a, b }` is the same submit, not a
 * conflict. An input carried by reference (the claim check) is the same when its bytes are: references are
 * compared by their SHA-256 and kind, never by their ids (each submit stores its own copy).
 */
export function sameStoredData(stored: string, data: unknown): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stored);
  } catch {
    return false;
  }
  return stableStringify(byContent(parsed)) === stableStringify(byContent(data));
}

/** True when a job's stored data carries the input reference `ref` (the same object, by id). */
export function storesRef(stored: string, ref: Ref): boolean {
  try {
    return (JSON.parse(stored) as { inputRef?: Ref }).inputRef?.id === ref.id;
  } catch {
    return false;
  }
}

/** Job data with its input reference, if any, reduced to what names its content. */
function byContent(data: unknown): unknown {
  if (typeof data !== 'object' || data === null || !('inputRef' in data)) return data;
  const { inputRef, ...rest } = data as { inputRef: Ref };
  return { ...rest, inputRef: { sha256: inputRef.sha256, kind: inputRef.kind } };
}
