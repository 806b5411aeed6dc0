import type { ObjectStore } from '../objects/objectStore.ts';
import type { RedisClient } from '../redisConnection.ts';

/**
 * Which job owns each object taskpool made for a job (the claim check of a big input or output, `ctx.put`): a
 * hash of object id → `{ job, store, at }`, the job's key, the store that holds the object and when it was
 * made. An object goes once its job's key is gone (the job was removed: by its retention, by `remove`, with its
 * workflow), at the next {@link sweepOwnedObjects}. Objects of `client.put` have no owner: their TTL or
 * `client.delete` ends them.
 */
function ownersKey(prefix: string): string {
  return `${prefix}:tp:objects:owners`;
}

/** Held by the worker that sweeps, so that one sweeps at a time. */
function sweepLockKey(prefix: string): string {
  return `${prefix}:tp:objects:sweeping`;
}

/** An owned object's entry. */
export interface OwnerEntry {
  /** The owning job's key (`<prefix>:<queue>:<id>`). */
  job: string;
  /** The store that holds the object (`ObjectStore.kind`). */
  store: string;
  /** When it was recorded, ms since the epoch. */
  at: number;
}

/** Records that `jobKey` owns the object `id` (before the job is added: the sweep leaves young entries alone). */
export async function recordOwner(redis: RedisClient, prefix: string, id: string, owner: { job: string; store: string }): Promise<void> {
  await redis.hset(ownersKey(prefix), id, JSON.stringify({ ...owner, at: Date.now() } satisfies OwnerEntry));
}

/** Options of {@link sweepOwnedObjects}. */
export interface SweepOptions {
  /**
   * Entries younger than this are left alone: their job may not be added yet (the object is stored first, then
   * the job; a submit may retry for `submitRetryMs`). Default: 15 minutes.
   */
  graceMs?: number;
  /** Entries read per round trip. Default: 500. */
  batch?: number;
}

/** How long an owned object is kept before its job must exist: 15 minutes. */
export const DEFAULT_OWNER_GRACE_MS = 15 * 60_000;

/**
 * Deletes every owned object whose job is gone (see the module's comment), from the store that holds it, and
 * its entry. An entry whose store is not among `stores` is left for a sweeper that has it. Returns how many
 * objects went.
 */
export async function sweepOwnedObjects(redis: RedisClient, prefix: string, stores: readonly ObjectStore[], options: SweepOptions = {}): Promise<number> {
  const graceMs = options.graceMs ?? DEFAULT_OWNER_GRACE_MS;
  const batch = options.batch ?? 500;
  const key = ownersKey(prefix);
  const before = Date.now() - graceMs;
  let cursor = '0';
  let removed = 0;
  do {
    const [next, flat] = await redis.hscan(key, cursor, 'COUNT', batch);
    cursor = next;
    const entries: { id: string; entry: OwnerEntry }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const entry = parseEntry(flat[i + 1]!);
      if (entry && entry.at <= before) entries.push({ id: flat[i]!, entry });
    }
    if (entries.length === 0) continue;
    const exists = redis.pipeline();
    for (const { entry } of entries) exists.exists(entry.job);
    const replies = (await exists.exec()) ?? [];
    for (const [i, { id, entry }] of entries.entries()) {
      const [error, found] = replies[i] ?? [null, 1];
      if (error || Number(found) > 0) continue;
      const store = stores.find((s) => s.kind === entry.store);
      if (!store) continue;
      await store.delete(id);
      await redis.hdel(key, id);
      removed++;
    }
  } while (cursor !== '0');
  return removed;
}

/**
 * Runs {@link sweepOwnedObjects} unless another process holds the sweep (a lock of `holdMs`); gives how many
 * objects went, or undefined when another process sweeps.
 */
export async function sweepOwnedObjectsOnce(redis: RedisClient, prefix: string, stores: readonly ObjectStore[], holdMs: number, options: SweepOptions = {}): Promise<number | undefined> {
  const lock = sweepLockKey(prefix);
  if ((await redis.set(lock, String(process.pid), 'PX', holdMs, 'NX')) !== 'OK') return undefined;
  try {
    return await sweepOwnedObjects(redis, prefix, stores, options);
  } finally {
    await redis.del(lock);
  }
}

/** How many objects have an owning job (for the stats). */
export async function ownedObjectCount(redis: RedisClient, prefix: string): Promise<number> {
  return redis.hlen(ownersKey(prefix));
}

function parseEntry(text: string): OwnerEntry | undefined {
  try {
    const entry = JSON.parse(text) as Partial<OwnerEntry>;
    return typeof entry.job === 'string' && typeof entry.store === 'string' && typeof entry.at === 'number' ? (entry as OwnerEntry) : undefined;
  } catch {
    return undefined;
  }
}
