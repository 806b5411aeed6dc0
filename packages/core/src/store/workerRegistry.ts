import type { RedisClient } from '../redisConnection.ts';
import { HEARTBEAT_MS, type WorkerInfo } from '../workerInfo.ts';
import { workersKey } from './taskpoolKeys.ts';

/** A worker is live while its last heartbeat is younger than this: it may miss two, not three. */
export const WORKER_STALE_MS = 3 * HEARTBEAT_MS;

/**
 * The live workers of a prefix, read from the registry the workers' heartbeats fill (`workersKey`),
 * sorted by host and pid. Entries whose heartbeat is older than {@link WORKER_STALE_MS} (a worker that
 * was killed) and entries that do not parse are left out and deleted, so dead workers don't pile up.
 */
export async function listWorkers(redis: RedisClient, prefix: string, now = Date.now()): Promise<WorkerInfo[]> {
  const entries = await redis.hgetall(workersKey(prefix));
  const live: WorkerInfo[] = [];
  const gone: string[] = [];
  for (const [id, text] of Object.entries(entries)) {
    const info = parseWorkerInfo(text);
    if (info && now - info.heartbeatAt < WORKER_STALE_MS) live.push(info);
    else gone.push(id);
  }
  if (gone.length > 0) await redis.hdel(workersKey(prefix), ...gone);
  return live.sort((a, b) => a.host.localeCompare(b.host) || a.pid - b.pid);
}

function parseWorkerInfo(text: string): WorkerInfo | undefined {
  try {
    const value = JSON.parse(text) as Partial<WorkerInfo>;
    if (typeof value.heartbeatAt !== 'number' || typeof value.pid !== 'number' || typeof value.host !== 'string') return undefined;
    return { ...value, sandboxes: Array.isArray(value.sandboxes) ? value.sandboxes : [] } as WorkerInfo;
  } catch {
    return undefined;
  }
}

/** Writes (or refreshes) a worker's entry in the registry: its heartbeat. */
export async function writeWorkerInfo(redis: RedisClient, prefix: string, info: WorkerInfo): Promise<void> {
  await redis.hset(workersKey(prefix), info.id, JSON.stringify(info));
}

/** Removes a worker's entry (a clean stop). */
export async function removeWorkerInfo(redis: RedisClient, prefix: string, workerId: string): Promise<void> {
  await redis.hdel(workersKey(prefix), workerId);
}
