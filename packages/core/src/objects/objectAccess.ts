import { ConfigError, PayloadTooLargeError } from '../errors.ts';
import { FsObjectStore } from '../objects/fsObjectStore.ts';
import { encodeObject, getObject, storeBytes, verifyBytes, type ObjectKind, type Ref } from '../objects/objectRef.ts';
import type { ObjectStore } from '../objects/objectStore.ts';
import type { RedisClient } from '../redisConnection.ts';
import { jobKey } from '../store/jobKeys.ts';
import { recordOwner } from '../store/objectOwners.ts';
import { RedisObjectStore } from '../store/redisObjectStore.ts';

/** Where a client keeps objects by reference (see {@link ObjectAccess}). */
export interface ObjectOptions {
  /**
   * A directory every machine of the deployment mounts (NFS, a shared volume): objects over `fsFromBytes` go
   * there instead of Redis. Default: none (every object in Redis).
   */
  dir?: string;
  /** Objects of more bytes than this go to `dir` when it is set. Default: 1 MiB. */
  fsFromBytes?: number;
  /** The largest object `put` accepts, bytes (`PayloadTooLargeError`, nothing written). Default: 1 GiB. */
  maxBytes?: number;
  /**
   * The claim check: a task's input (at submit) or output (in the worker) whose encoded JSON takes more bytes
   * than this is stored as an object owned by its job, and the job carries the reference; the handler and
   * `result()` see the value as if it had been inline. Default: 64 KiB (`TASKPOOL_INLINE_MAX_BYTES`).
   */
  inlineMaxBytes?: number;
}

/** Options of {@link ObjectAccess.put}. */
export interface PutOptions {
  /** The object goes after this long, ms. Default: it stays until `delete`. */
  ttlMs?: number;
}

/** A stream of bytes `put` reads whole: a web `ReadableStream`, a Node.js `Readable`, any async iterable of bytes. */
export type ByteStream = ReadableStream<Uint8Array> | NodeJS.ReadableStream | AsyncIterable<Uint8Array>;

/** What a reference to a put value gives back: the value itself, or a `Buffer` for a stream of bytes. */
export type Stored<T> = T extends ByteStream ? Buffer : T;

/** The client's objects by reference: put, get and delete (see `ClientOptions.objects`). */
export interface ObjectAccess {
  /**
   * Stores a value as an object and gives its reference: a stream of bytes (read whole, refused as soon as it
   * passes the cap), a `Buffer`, a typed array, or any value a task's input may hold (encoded as task values are).
   */
  put<T>(value: T, options?: PutOptions): Promise<Ref<Stored<T>>>;
  /** The value a reference names, its size and SHA-256 checked (`ObjectNotFoundError`, `ObjectCorruptError`). */
  get<T>(ref: Ref<T>): Promise<T>;
  /** Deletes the object a reference names; true if it was there. */
  delete(ref: Ref): Promise<boolean>;
  /**
   * An object's bytes by its id alone (Redis first, then the directory), checked against the size and SHA-256
   * stored with it; undefined when no store holds it. What `GET /v1/objects/:id` answers.
   */
  bytesOf(id: string): Promise<Buffer | undefined>;
}

/**
 * What taskpool itself uses to store objects (the claim check, `ctx.put`): the public access, and a write of
 * bytes already encoded, owned by a job when `owner` (the job's key) is given.
 */
export interface ObjectWriter extends ObjectAccess {
  /** The stores, Redis's first. */
  readonly stores: readonly ObjectStore[];
  /** The largest object, bytes. */
  readonly maxBytes: number;
  /** Inputs and outputs above this many bytes go by reference (see {@link ObjectOptions.inlineMaxBytes}). */
  readonly inlineMaxBytes: number;
  /** Stores bytes as a new object, in the directory when they are past `fsFromBytes` (and there is one), else Redis. */
  putBytes(bytes: Buffer, kind: ObjectKind, options?: PutOptions & { owner?: JobOwner; sha256?: string }): Promise<Ref>;
}

/** The job an object is made for: it goes once the job is removed (see `store/objectOwners.ts`). */
export interface JobOwner {
  queue: string;
  jobId: string;
}

/** 64 KiB: inputs and outputs above it go by reference. */
export const DEFAULT_INLINE_MAX_BYTES = 65_536;

/** One MiB: where objects start going to the directory, when there is one. */
export const DEFAULT_FS_FROM_BYTES = 1_048_576;
/** One GiB: the largest object by default. */
export const DEFAULT_MAX_OBJECT_BYTES = 1_073_741_824;

/** The stores of a client or a worker: Redis always, the directory when `options.dir` is set. */
export function createObjectAccess(redis: RedisClient, prefix: string, options: ObjectOptions = {}): ObjectWriter {
  const inRedis = new RedisObjectStore(redis, prefix);
  const inDir = options.dir === undefined ? undefined : new FsObjectStore(options.dir);
  const fsFromBytes = options.fsFromBytes ?? DEFAULT_FS_FROM_BYTES;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_OBJECT_BYTES;
  const storeOf = (ref: Ref): ObjectStore => {
    if (ref.store === inRedis.kind) return inRedis;
    if (ref.store === 'fs' && inDir) return inDir;
    throw new ConfigError(`Object ${ref.id} is in a '${ref.store}' store, which this client has not been given (ClientOptions.objects.dir)`);
  };
  const putBytes = async (bytes: Buffer, kind: ObjectKind, putOptions: PutOptions & { owner?: JobOwner; sha256?: string } = {}): Promise<Ref> => {
    if (bytes.byteLength > maxBytes) throw new PayloadTooLargeError('object', bytes.byteLength, maxBytes);
    const store = inDir && bytes.byteLength > fsFromBytes ? inDir : inRedis;
    const { owner, ...rest } = putOptions;
    // The owner first: an object is never stored without it, and the sweep leaves an entry alone until its job may exist.
    return storeBytes(store, bytes, kind, rest, async (id) => {
      if (owner !== undefined) await recordOwner(redis, prefix, id, { job: jobKey(prefix, owner.queue, owner.jobId), store: store.kind });
    });
  };
  const stores = inDir ? [inRedis, inDir] : [inRedis];
  return {
    stores,
    maxBytes,
    inlineMaxBytes: options.inlineMaxBytes ?? DEFAULT_INLINE_MAX_BYTES,
    putBytes,
    put: (async (value: unknown, putOptions: PutOptions = {}) => {
      const whole = isByteStream(value) ? await readStream(value, maxBytes) : value;
      const { bytes, kind } = encodeObject(whole);
      return putBytes(bytes, kind, putOptions);
    }) as ObjectAccess['put'],
    get: (ref) => getObject(storeOf(ref), ref),
    delete: (ref) => storeOf(ref).delete(ref.id),
    async bytesOf(id) {
      for (const store of stores) {
        const found = await store.get(id);
        if (!found) continue;
        verifyBytes({ id, ...found.meta }, found.bytes);
        return found.bytes;
      }
      return undefined;
    },
  };
}

function isByteStream(value: unknown): value is ByteStream {
  return value instanceof ReadableStream || (typeof value === 'object' && value !== null && Symbol.asyncIterator in value && !Buffer.isBuffer(value));
}

/** Reads a stream whole, stopping as soon as it passes `maxBytes` (the put then fails: nothing is written). */
async function readStream(stream: ByteStream, maxBytes: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let bytes = 0;
  for await (const part of stream as AsyncIterable<Uint8Array>) {
    bytes += part.byteLength;
    if (bytes > maxBytes) break;
    parts.push(Buffer.from(part.buffer, part.byteOffset, part.byteLength));
  }
  if (bytes > maxBytes) throw new PayloadTooLargeError('object (a stream, read so far)', bytes, maxBytes);
  return Buffer.concat(parts);
}
