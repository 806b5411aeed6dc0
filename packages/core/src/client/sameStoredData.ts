import stableStringify from 'safe-stable-stringify';

/**
 * True when a job's stored data (the `data` field of its hash) holds the same value as `data`, whatever the
 * order of their keys: an idempotent submit repeated with `{ b, a }` for `{ a, b }` is the same submit, not a
 * conflict.
 */
export function sameStoredData(stored: string, data: unknown): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stored);
  } catch {
    return false;
  }
  return stableStringify(parsed) === stableStringify(data);
}
