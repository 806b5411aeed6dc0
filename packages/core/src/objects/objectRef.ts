import { createHash, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ObjectCorruptError, ObjectNotFoundError, PayloadTooLargeError } from '../errors.ts';
import { decodeValue, encodeValue, type EncodedValue } from '../valueCodec.ts';
import type { ObjectStore, PutObjectOptions } from './objectStore.ts';

/** Typed arrays a reference keeps as their own type: their bytes are stored as they are. */
const TYPED_ARRAYS = {
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
} as const;

type TypedArrayName = keyof typeof TYPED_ARRAYS;

/**
 * How an object's bytes are read back: `buffer` (a `Buffer`), a typed array's name (that array over the bytes),
 * or `value` (a JSON value encoded by `valueCodec.ts`, so a `Date` or a `Map` comes back as one).
 */
export type ObjectKind = 'buffer' | 'value' | TypedArrayName;

/**
 * A reference to an object in a store: what travels in a task's input or output instead of the data. `T` is
 * the type of the value it gives back. JSON-safe, and small (under 200 bytes).
 */
export interface Ref<T = unknown> {
  readonly $taskpoolObject: 1;
  readonly id: string;
  /** Bytes as stored. */
  readonly size: number;
  /** SHA-256 of the bytes, hex: checked on every read. */
  readonly sha256: string;
  readonly kind: ObjectKind;
  /** The backend that holds it (`ObjectStore.kind`). */
  readonly store: string;
  /** Never set: carries `T` for the type checker. */
  readonly __value?: T;
}

/** True for a value shaped as a {@link Ref}. */
export function isRef(value: unknown): value is Ref {
  if (typeof value !== 'object' || value === null) return false;
  const ref = value as Partial<Ref>;
  return ref.$taskpoolObject === 1 && typeof ref.id === 'string' && typeof ref.size === 'number' && typeof ref.sha256 === 'string' && typeof ref.kind === 'string' && typeof ref.store === 'string';
}

/** The bytes of a value as an object, and how to read them back. */
export function encodeObject(value: unknown): { bytes: Buffer; kind: ObjectKind } {
  if (Buffer.isBuffer(value)) return { bytes: value, kind: 'buffer' };
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const name = value.constructor.name as TypedArrayName;
    if (name in TYPED_ARRAYS) return { bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength), kind: name };
  }
  return { bytes: Buffer.from(JSON.stringify(encodeValue(value))), kind: 'value' };
}

/** The value an object's bytes hold, by its kind. */
export function decodeObject(bytes: Buffer, kind: ObjectKind): unknown {
  if (kind === 'buffer') return bytes;
  if (kind === 'value') return decodeValue(JSON.parse(bytes.toString('utf8')) as EncodedValue);
  const Type = TYPED_ARRAYS[kind];
  // A copy, aligned for the array's element size (a Buffer from a pool may start at any offset).
  const copy = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(copy).set(bytes);
  return new Type(copy);
}

/** Options of {@link putObject}. */
export interface PutOptions extends PutObjectOptions {
  /** Refuse an object bigger than this, bytes (`PayloadTooLargeError`, nothing written). */
  maxBytes: number;
}

/** Stores a value as a new object in `store` and gives its reference. */
export async function putObject<T>(store: ObjectStore, value: T, options: PutOptions): Promise<Ref<T>> {
  const { bytes, kind } = encodeObject(value);
  if (bytes.byteLength > options.maxBytes) throw new PayloadTooLargeError('object', bytes.byteLength, options.maxBytes);
  return (await storeBytes(store, bytes, kind, options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs })) as Ref<T>;
}

/**
 * Stores bytes as a new object and gives its reference; `beforeStore` runs with the new id before anything is
 * written (the claim check records the object's owner there). `sha256`: the bytes' hash when the caller has just
 * checked it (a file a sandbox wrote), so that 50 MB are not hashed twice in a row.
 */
export async function storeBytes(store: ObjectStore, bytes: Buffer, kind: ObjectKind, options: PutObjectOptions & { sha256?: string } = {}, beforeStore?: (id: string) => Promise<void>): Promise<Ref> {
  const id = randomUUID();
  const sha256 = options.sha256 ?? createHash('sha256').update(bytes).digest('hex');
  await beforeStore?.(id);
  await store.put(id, bytes, { size: bytes.byteLength, sha256 }, options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs });
  return { $taskpoolObject: 1, id, size: bytes.byteLength, sha256, kind, store: store.kind };
}

/**
 * The bytes a reference names, checked against its size and hash: `ObjectNotFoundError` when its store does not
 * hold it, `ObjectCorruptError` when the bytes are not the ones referenced.
 */
export async function readObjectBytes(store: ObjectStore, ref: Ref): Promise<Buffer> {
  const found = await store.get(ref.id);
  if (!found) throw new ObjectNotFoundError(ref.id);
  verifyBytes(ref, found.bytes);
  return found.bytes;
}

/** Throws `ObjectCorruptError` unless `bytes` are the ones `ref` (or a store's meta of that id) names: size, then SHA-256. */
export function verifyBytes(ref: Pick<Ref, 'id' | 'size' | 'sha256'>, bytes: Buffer): void {
  if (bytes.byteLength !== ref.size) throw new ObjectCorruptError(ref.id, `${bytes.byteLength} bytes, the reference says ${ref.size}`);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== ref.sha256) throw new ObjectCorruptError(ref.id, 'its SHA-256 is not the reference\'s');
}

/** The value a reference names (see {@link readObjectBytes}). */
export async function getObject<T>(store: ObjectStore, ref: Ref<T>): Promise<T> {
  return decodeObject(await readObjectBytes(store, ref), ref.kind) as T;
}

/** How many times a reader asks for an object's local file before it gives up (a file evicted or repaired under it). */
const CACHE_READ_TRIES = 4;

/**
 * The checked bytes of a reference from the machine's cache: `pathOf` gives the local file (fetching it first if
 * needed; `refetch` asks for it to be fetched anew). A file whose bytes do not match is asked for again with
 * `refetch`, never used; a file gone before it was read (evicted, or replaced by another reader's refetch) is
 * asked for again. Shared by a sandbox (which asks its supervisor) and an inline task (which asks the cache).
 */
export async function readCachedBytes(ref: Ref, pathOf: (refetch: boolean) => Promise<string>): Promise<Buffer> {
  let refetch = false;
  let last: unknown;
  for (let attempt = 0; attempt < CACHE_READ_TRIES; attempt++) {
    try {
      const bytes = await readFile(await pathOf(refetch));
      verifyBytes(ref, bytes);
      return bytes;
    } catch (error) {
      last = error;
      if (error instanceof ObjectCorruptError) refetch = true;
      else if ((error as NodeJS.ErrnoException).code === 'ENOENT') refetch = false;
      else throw error;
    }
  }
  throw last;
}
