import { mkdir, readdir, readFile, rm, stat, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ConfigError, ObjectNotFoundError } from '../errors.ts';
import { ObjectMemo } from '../objects/objectMemo.ts';
import { readCachedBytes, verifyBytes, type ObjectKind, type Ref } from '../objects/objectRef.ts';
import { DEFAULT_INLINE_MAX_BYTES, DEFAULT_MAX_OBJECT_BYTES, type JobOwner, type ObjectWriter } from '../objects/objectAccess.ts';
import type { TaskObjects } from '../objects/taskObjects.ts';
import { writeAtomically } from '../objects/fsObjectStore.ts';
import type { ObjectReply, ObjectRequest, SandboxObjectSettings } from '../objects/objectRequester.ts';
import type { ObjectStore } from '../objects/objectStore.ts';
import { serializeError } from '../serializeError.ts';

/** Where a machine's workers keep the objects their tasks read, unless told otherwise. */
export const DEFAULT_OBJECT_CACHE_DIR = join(tmpdir(), 'taskpool-objects');
/** The most a machine's object cache holds before it evicts the least recently used: 2 GiB. */
export const DEFAULT_OBJECT_CACHE_MAX_BYTES = 2 * 1024 * 1024 * 1024;

/** Options of an {@link ObjectCache}. */
export interface ObjectCacheOptions {
  /**
   * The stores references may name, by their `kind` (`'redis'`, `'fs'`), for a cache that only reads; a worker's
   * cache reads from its writer's stores (see {@link ObjectCache.writer}).
   */
  stores?: readonly ObjectStore[];
  /** A directory of this machine; every worker of the machine may share it. Default: {@link DEFAULT_OBJECT_CACHE_DIR}. */
  dir?: string;
  /** Bytes kept before the least recently used objects go. Default: {@link DEFAULT_OBJECT_CACHE_MAX_BYTES}. */
  maxBytes?: number;
  logger: Logger;
  /** Outputs above this go by reference (what sandboxes are told). Default: {@link DEFAULT_INLINE_MAX_BYTES}. */
  inlineMaxBytes?: number;
  /** The largest object (what sandboxes are told). Default: {@link DEFAULT_MAX_OBJECT_BYTES}. */
  maxObjectBytes?: number;
}

/** The stores the cache fetches from and stores what tasks put to (`ctx.put`, a big output). */
export type CacheWriter = Pick<ObjectWriter, 'putBytes' | 'stores'>;

/**
 * The objects a machine's tasks read by reference, fetched from their store once per machine: one file per
 * object content (named by its SHA-256) in a local directory that every sandbox, and every worker process, of
 * the machine shares. A file is written under a temporary name and renamed, so a reader never sees half of one;
 * two workers fetching at once both write the same bytes. Concurrent asks of one object in this process wait for
 * one fetch. Past `maxBytes`, the least recently used files go (a read refreshes a file's time). A reader that
 * finds a file's bytes wrong asks again with `refetch`: the file is fetched anew, never used.
 */
export class ObjectCache {
  readonly dir: string;
  private readonly maxBytes: number;
  private readonly fetching = new Map<string, Promise<string>>();
  /** Objects fetched from their store by this process (each at most once per content, unless refetched or evicted). */
  fetches = 0;
  /** What this process's inline tasks have read (see `ObjectMemo`). */
  private readonly memo = new ObjectMemo();
  /** The stores, set once the worker's Redis connection exists; none: a `put` fails, a fetch reads `options.stores`. */
  writer: CacheWriter | undefined;

  constructor(private readonly options: ObjectCacheOptions) {
    this.dir = options.dir ?? DEFAULT_OBJECT_CACHE_DIR;
    this.maxBytes = options.maxBytes ?? DEFAULT_OBJECT_CACHE_MAX_BYTES;
  }

  /** The local file that holds a reference's bytes, fetched first if this machine does not have it. */
  async pathOf(ref: Ref, refetch = false): Promise<string> {
    const path = join(this.dir, checkedSha(ref.sha256));
    if (refetch) {
      // Several readers may report one bad file: once it has been fetched again (or is being), it is not deleted again.
      const inFlight = this.fetching.get(ref.sha256);
      if (inFlight) return inFlight;
      if (await holdsBytesOf(path, ref)) return path;
      this.options.logger.warn({ event: 'object:refetch', objectId: ref.id }, 'A cached object did not match its hash: fetched again');
      await rm(path, { force: true });
    } else if ((await stat(path).catch(() => undefined))?.size === ref.size) {
      const now = new Date();
      await utimes(path, now, now).catch(() => undefined);
      return path;
    }
    let pending = this.fetching.get(ref.sha256);
    if (!pending) {
      pending = this.fetch(ref, path).finally(() => this.fetching.delete(ref.sha256));
      this.fetching.set(ref.sha256, pending);
    }
    return pending;
  }

  /** What a sandbox is told of objects when it starts: where this cache is, and the claim check's limits. */
  sandboxSettings(): SandboxObjectSettings {
    return {
      cacheDir: this.dir,
      inlineMaxBytes: this.options.inlineMaxBytes ?? DEFAULT_INLINE_MAX_BYTES,
      maxObjectBytes: this.options.maxObjectBytes ?? DEFAULT_MAX_OBJECT_BYTES,
    };
  }

  /** This cache as the tasks that run in the worker itself (`inline`) use it. */
  taskObjects(): TaskObjects {
    return {
      get: (ref) => this.read(ref),
      put: (bytes, kind, owner) => this.putBytes(bytes, kind, owner),
      inlineMaxBytes: this.options.inlineMaxBytes ?? DEFAULT_INLINE_MAX_BYTES,
    };
  }

  /**
   * Stores the file a sandbox wrote into this cache (named by its SHA-256, see `ObjectRequester.put`) as an
   * object owned by `owner`; the file stays, so this machine's tasks read it without a fetch.
   */
  async storeLocal(file: { sha256: string; size: number; kind: ObjectKind }, owner: JobOwner): Promise<Ref> {
    const path = join(this.dir, checkedSha(file.sha256));
    const bytes = await readFile(path);
    verifyBytes({ id: file.sha256, size: file.size, sha256: file.sha256 }, bytes);
    const ref = await this.putBytes(bytes, file.kind, owner, file.sha256);
    await this.evict(path);
    return ref;
  }

  /** Stores bytes as an object owned by `owner` (a task's `ctx.put`, or its big output). */
  async putBytes(bytes: Buffer, kind: ObjectKind, owner: JobOwner, sha256?: string): Promise<Ref> {
    if (!this.writer) throw new ConfigError('This worker stores no objects (not connected yet)');
    const ref = await this.writer.putBytes(bytes, kind, { owner, ...(sha256 !== undefined && { sha256 }) });
    this.options.logger.debug({ event: 'object:stored', objectId: ref.id, bytes: ref.size, jobId: owner.jobId });
    return ref;
  }

  /** A reference's value, read from the cache (for tasks that run in the worker itself, `inline`). */
  async read(ref: Ref): Promise<unknown> {
    return this.memo.read(ref, () => readCachedBytes(ref, (refetch) => this.pathOf(ref, refetch)));
  }

  private async fetch(ref: Ref, path: string): Promise<string> {
    const store = (this.writer?.stores ?? this.options.stores ?? []).find((s) => s.kind === ref.store);
    if (!store) throw new ConfigError(`Object ${ref.id} is in a '${ref.store}' store, which this worker has not been given (TASKPOOL_OBJECTS_DIR)`);
    const found = await store.get(ref.id);
    if (!found) throw new ObjectNotFoundError(ref.id);
    verifyBytes(ref, found.bytes);
    await mkdir(this.dir, { recursive: true });
    await writeAtomically(path, found.bytes);
    this.fetches++;
    this.options.logger.debug({ event: 'object:fetched', objectId: ref.id, bytes: ref.size });
    await this.evict(path);
    return path;
  }

  /** Deletes the least recently used files until the cache fits (never `keep`, the file just fetched). */
  private async evict(keep: string): Promise<void> {
    const names = (await readdir(this.dir)).filter((name) => !name.endsWith('.tmp'));
    const files = await Promise.all(names.map(async (name) => ({ path: join(this.dir, name), info: await stat(join(this.dir, name)).catch(() => undefined) })));
    const present = files.filter((f) => f.info !== undefined).sort((a, b) => a.info!.mtimeMs - b.info!.mtimeMs);
    let total = present.reduce((sum, f) => sum + f.info!.size, 0);
    for (const file of present) {
      if (total <= this.maxBytes) break;
      if (file.path === keep) continue;
      await rm(file.path, { force: true });
      total -= file.info!.size;
    }
  }
}

/** True when the file at `path` holds exactly the bytes `ref` names. */
async function holdsBytesOf(path: string, ref: Ref): Promise<boolean> {
  const bytes = await readFile(path).catch(() => undefined);
  if (!bytes) return false;
  try {
    verifyBytes(ref, bytes);
    return true;
  } catch {
    return false;
  }
}

function checkedSha(sha256: string): string {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new RangeError(`Not a SHA-256: ${JSON.stringify(sha256)}`);
  return sha256;
}

/**
 * The supervisor's answer to a sandbox's ask: an object's local file, or the reference to the file it stored
 * for one of its jobs (`queueOf` gives the job's queue), or why not.
 */
export async function serveObject(cache: ObjectCache | undefined, request: ObjectRequest, queueOf: (jobId: string) => string | undefined): Promise<ObjectReply> {
  const { requestId } = request;
  try {
    if (!cache) throw new ConfigError('This worker reads no objects by reference (no object cache)');
    if (request.type === 'object-put') {
      const queue = queueOf(request.jobId);
      if (queue === undefined) throw new ConfigError(`ctx.put: job ${request.jobId} is not running in this sandbox`);
      return { type: 'object-stored', requestId, ref: await cache.storeLocal(request, { queue, jobId: request.jobId }) };
    }
    return { type: 'object-ready', requestId, path: await cache.pathOf(request.ref, request.refetch === true) };
  } catch (error) {
    return { type: 'object-failed', requestId, error: serializeError(error) };
  }
}
