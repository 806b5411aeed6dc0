import { Redis } from 'ioredis';
import { ConfigError } from '../errors.ts';
import type { RedisClient } from '../redisConnection.ts';
import { replicationProbeKey } from './taskpoolKeys.ts';

/** What {@link waitForReplicas} waits for. */
export interface WaitForReplicasOptions {
  prefix: string;
  /** Keys of jobs added (on any connection) before this call. */
  jobKeys: readonly string[];
  /** Replicas that must hold the jobs. */
  replicas: number;
  /** Most time to wait for them, in ms (Redis `WAIT`'s timeout). */
  timeoutMs: number;
}

const PROBE_TTL_MS = 60_000;

/**
 * Waits until `replicas` replicas of the master hold the jobs, or `timeoutMs` passes, and returns, per job
 * key, how many replicas hold it: Redis `WAIT`, which counts the replicas that have every write of its own
 * connection so far.
 *
 * One pipeline: `EXISTS` of each job (is it on the master this connection reaches now?), a write of the
 * probe key (so that this connection has written after the jobs, whichever connection added them: Redis 7
 * counts only a connection's own writes, and the replication stream is in order), then `WAIT`. A job that
 * is missing (lost in a failover, or already removed) gets 0. All get 0 when the connection changed during
 * the pipeline (ioredis sends unanswered commands again on the new socket, so `WAIT` may have run on
 * another server than `EXISTS`). `WAIT` blocks its connection: give it one of its own.
 *
 * @throws ConfigError on a Redis Cluster (not supported there); a failed command's error.
 */
export async function waitForReplicas(redis: RedisClient, options: WaitForReplicasOptions): Promise<number[]> {
  if (!(redis instanceof Redis)) throw new ConfigError('Durable submits need one master (redis:// or redis-sentinel://), not a Redis Cluster');
  // The socket to compare with is the one the pipeline goes out on: a connection still connecting has none yet.
  if (redis.status !== 'ready') await redis.ping();
  const socket = redis.stream;
  const pipeline = redis.pipeline();
  for (const key of options.jobKeys) pipeline.exists(key);
  pipeline.set(replicationProbeKey(options.prefix), String(Date.now()), 'PX', PROBE_TTL_MS);
  pipeline.wait(options.replicas, options.timeoutMs);
  const replies = (await pipeline.exec()) ?? [];
  for (const [error] of replies) if (error) throw error;
  const [, acknowledged] = replies.at(-1) ?? [];
  if (redis.stream !== socket || typeof acknowledged !== 'number') return options.jobKeys.map(() => 0);
  return options.jobKeys.map((_, i) => (replies[i]?.[1] === 1 ? acknowledged : 0));
}
