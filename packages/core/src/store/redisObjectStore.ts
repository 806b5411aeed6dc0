import type { ObjectMeta, ObjectStore, PutObjectOptions } from '../objects/objectStore.ts';
import type { RedisClient } from '../redisConnection.ts';
import { luaScript, runScript } from './runScript.ts';

/** Bytes per chunk of an object in Redis: a big object is several strings, none of them huge. */
export const REDIS_OBJECT_CHUNK_BYTES = 512 * 1024;

/** An object's meta hash: `size`, `sha256`, `chunks`, `expiresAt` (absent: never). */
function metaKey(prefix: string, id: string): string {
  return `${prefix}:tp:obj:${id}`;
}

/** Chunk `n` of an object (a string). */
function chunkKey(prefix: string, id: string, n: number): string {
  return `${prefix}:tp:obj:${id}:${n}`;
}

/** The index of objects: a sorted set of ids scored by when they expire (`+inf`: never), and a hash of their sizes. */
function indexKey(prefix: string): string {
  return `${prefix}:tp:objects`;
}

function sizesKey(prefix: string): string {
  return `${prefix}:tp:objects:size`;
}

/**
 * Makes an object visible once its chunks are written: its meta hash, its expiry (on the meta and the chunks)
 * and its place in the index, in one step. KEYS: 1 meta, 2 index, 3 sizes, 4.. the chunks. ARGV: 1 id, 2 size,
 * 3 sha256, 4 expiresAt (ms) or '' (never).
 */
const PUBLISH = luaScript(`
local chunks = #KEYS - 3
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'size', ARGV[2], 'sha256', ARGV[3], 'chunks', chunks)
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], 'expiresAt', ARGV[4])
  redis.call('PEXPIREAT', KEYS[1], ARGV[4])
  for k = 4, #KEYS do redis.call('PEXPIREAT', KEYS[k], ARGV[4]) end
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
else
  for k = 4, #KEYS do redis.call('PERSIST', KEYS[k]) end
  redis.call('ZADD', KEYS[2], 'inf', ARGV[1])
end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
return chunks
`);

/**
 * Drops the index entries of objects expired by now (Redis has dropped their keys). KEYS: 1 index, 2 sizes.
 * ARGV: 1 now (ms). Returns how many went.
 */
const SWEEP = luaScript(`
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
for _, id in ipairs(gone) do redis.call('HDEL', KEYS[2], id) end
if #gone > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1]) end
return #gone
`);

/**
 * Objects in Redis, under the deployment's prefix (so in its hash tag on a Cluster: every key of the store is in
 * one slot), in chunks of {@link REDIS_OBJECT_CHUNK_BYTES}. The chunks are written first and the meta last, in
 * one script with the index: a reader finds an object whole or not at all. Expiry is Redis's own (`PEXPIREAT`
 * on every key of the object); the index drops expired ids when it is read.
 */
export class RedisObjectStore implements ObjectStore {
  readonly kind = 'redis';

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  async put(id: string, bytes: Buffer, meta: Omit<ObjectMeta, 'expiresAt'>, options: PutObjectOptions = {}): Promise<void> {
    const chunks: string[] = [];
    const previous = await this.readMeta(id);
    const writes = this.redis.pipeline();
    for (let at = 0, n = 0; at < bytes.length || n === 0; at += REDIS_OBJECT_CHUNK_BYTES, n++) {
      const key = chunkKey(this.prefix, id, n);
      chunks.push(key);
      writes.set(key, bytes.subarray(at, at + REDIS_OBJECT_CHUNK_BYTES));
    }
    // Written again with fewer chunks: the old ones past the new end go.
    for (let n = chunks.length; n < (previous?.chunks ?? 0); n++) writes.del(chunkKey(this.prefix, id, n));
    for (const [error] of (await writes.exec()) ?? []) if (error) throw error;
    const expiresAt = options.ttlMs === undefined ? '' : String(Date.now() + options.ttlMs);
    await runScript(this.redis, PUBLISH, [metaKey(this.prefix, id), indexKey(this.prefix), sizesKey(this.prefix), ...chunks], [id, meta.size, meta.sha256, expiresAt]);
  }

  async get(id: string): Promise<{ bytes: Buffer; meta: ObjectMeta } | undefined> {
    const found = await this.readMeta(id);
    if (!found) return undefined;
    const reads = this.redis.pipeline();
    for (let n = 0; n < found.chunks; n++) reads.getBuffer(chunkKey(this.prefix, id, n));
    const parts: Buffer[] = [];
    for (const [error, part] of (await reads.exec()) ?? []) {
      if (error) throw error;
      // A chunk gone while its meta stays (expired between the two reads): the object is gone.
      if (part === null) return undefined;
      parts.push(part as Buffer);
    }
    return { bytes: Buffer.concat(parts), meta: found.meta };
  }

  async stat(id: string): Promise<ObjectMeta | undefined> {
    return (await this.readMeta(id))?.meta;
  }

  async delete(id: string): Promise<boolean> {
    const found = await this.readMeta(id);
    const chunks = Array.from({ length: found?.chunks ?? 0 }, (_, n) => chunkKey(this.prefix, id, n));
    const removal = this.redis.multi().del(metaKey(this.prefix, id), ...chunks).zrem(indexKey(this.prefix), id).hdel(sizesKey(this.prefix), id);
    const [[error, deleted] = [null, 0]] = (await removal.exec()) ?? [];
    if (error) throw error;
    return Number(deleted) > 0;
  }

  async usage(): Promise<{ objects: number; bytes: number }> {
    await runScript(this.redis, SWEEP, [indexKey(this.prefix), sizesKey(this.prefix)], [Date.now()]);
    const sizes = await this.redis.hvals(sizesKey(this.prefix));
    return { objects: sizes.length, bytes: sizes.reduce((sum, size) => sum + Number(size), 0) };
  }

  private async readMeta(id: string): Promise<{ meta: ObjectMeta; chunks: number } | undefined> {
    const [size, sha256, chunks, expiresAt] = await this.redis.hmget(metaKey(this.prefix, id), 'size', 'sha256', 'chunks', 'expiresAt');
    if (size == null || sha256 == null || chunks == null) return undefined;
    const meta: ObjectMeta = { size: Number(size), sha256, ...(expiresAt != null && { expiresAt: Number(expiresAt) }) };
    return { meta, chunks: Number(chunks) };
  }
}
