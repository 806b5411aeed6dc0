import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startLocalRedis, type LocalRedis } from '../../scripts/localRedis.ts';
import { eventually } from './spawnService.ts';

/** A Redis Cluster of throwaway redis-servers on 127.0.0.1 (free ports, never 6379). */
export interface LocalRedisCluster extends AsyncDisposable {
  /** `redis-cluster://127.0.0.1:<port>,...`. */
  url: string;
  nodes: LocalRedis[];
  stop(): Promise<void>;
}

/** Starts `masters` redis-servers with cluster mode on, joins them with `redis-cli --cluster create`, and waits for `cluster_state:ok`. */
export async function startRedisCluster(masters = 3): Promise<LocalRedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'tp-cluster-'));
  const nodes: LocalRedis[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((node) => node.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      nodes.push(await startLocalRedis({ dir: join(dir, String(i)), extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000'] }));
    }
    const create = spawn('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'ignore' });
    const [code] = (await once(create, 'exit')) as [number | null];
    if (code !== 0) throw new Error(`redis-cli --cluster create exited with code ${code}`);
    await eventually(async () => (await Promise.all(nodes.map(clusterOk))).every(Boolean), 'cluster_state:ok on every node', 20_000, 100);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `redis-cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`, nodes, stop, [Symbol.asyncDispose]: stop };
}

async function clusterOk(node: LocalRedis): Promise<boolean> {
  const redis = new Redis(node.url, { maxRetriesPerRequest: 1 });
  try {
    return /cluster_state:ok/.test(String(await redis.call('CLUSTER', 'INFO')));
  } finally {
    redis.disconnect();
  }
}
