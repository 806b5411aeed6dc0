/**
 * Where large values live by reference (issue #15): a store of immutable objects, each a byte string under an
 * id, with its size and SHA-256 kept beside it. Two backends: Redis (`store/redisObjectStore.ts`, the default,
 * for small objects) and a shared directory (`objects/fsObjectStore.ts`, what NFS or a volume gives a cluster of
 * workers). An S3-compatible backend would implement the same interface.
 */

/** What a store keeps beside an object's bytes. */
export interface ObjectMeta {
  /** Bytes. */
  size: number;
  /** SHA-256 of the bytes, hex. */
  sha256: string;
  /** When it goes (ms since the epoch), or undefined: until deleted. */
  expiresAt?: number;
}

/** Options of {@link ObjectStore.put}. */
export interface PutObjectOptions {
  /** The object goes after this long, ms. Default: never (until deleted). */
  ttlMs?: number;
}

/** An object store (see the module's comment). Ids are made by the caller; a store never reads the bytes. */
export interface ObjectStore {
  /** Which backend: `'redis'` or `'fs'` (an S3 one would say `'s3'`). */
  readonly kind: string;
  /** Writes an object whole: a reader sees it complete or not at all. Writing an id twice replaces it. */
  put(id: string, bytes: Buffer, meta: Omit<ObjectMeta, 'expiresAt'>, options?: PutObjectOptions): Promise<void>;
  /** An object's bytes and meta as stored (the caller checks the hash), or undefined when it is missing or expired. */
  get(id: string): Promise<{ bytes: Buffer; meta: ObjectMeta } | undefined>;
  /** An object's meta, or undefined when it is missing or expired. */
  stat(id: string): Promise<ObjectMeta | undefined>;
  /** Deletes an object; true if it was there. */
  delete(id: string): Promise<boolean>;
  /** How many objects the store holds and their bytes (expired ones dropped first). */
  usage(): Promise<{ objects: number; bytes: number }>;
}
