import { startLocalRedis, type LocalRedis } from '../scripts/localRedis.ts';

/** Where a run's Redis is: the URL clients and workers use, and how to take it down at the end. */
export interface Backend {
  url: string;
  stop(): Promise<void>;
}

/** A redis-server of the run's own, which a fault may kill and restart on the same port and data directory. */
export interface RedisBackend extends Backend {
  readonly port: number;
  /** The pid of the redis-server running now. */
  readonly pid: number;
  /** `kill -9`; resolves when the process is gone. */
  kill9(): Promise<void>;
  /** Starts redis-server again on the same port and directory (it reloads its AOF, if any); resolves once it answers. */
  restart(): Promise<void>;
}

/** How the run's Redis persists: none (the default of `startLocalRedis`), or an AOF with this `appendfsync`. */
export type Persistence = 'none' | 'everysec' | 'always';

/** Starts redis-server on a free 127.0.0.1 port (never 6379) with its data in `dir`. */
export async function startRedisBackend(dir: string, persistence: Persistence = 'none'): Promise<RedisBackend> {
  const options = {
    dir,
    appendOnly: persistence !== 'none',
    // startLocalRedis sets everysec with an AOF; a later argument wins.
    ...(persistence === 'always' && { extraArgs: ['--appendfsync', 'always'] }),
  };
  let redis: LocalRedis = await startLocalRedis(options);
  const port = redis.port;
  return {
    url: redis.url,
    port,
    get pid() {
      return redis.pid;
    },
    async kill9() {
      process.kill(redis.pid, 'SIGKILL');
      // stop() of a process that has exited returns at once; of one that is exiting, waits for it.
      await redis.stop();
    },
    async restart() {
      redis = await startLocalRedis({ ...options, port });
    },
    stop: () => redis.stop(),
  };
}
