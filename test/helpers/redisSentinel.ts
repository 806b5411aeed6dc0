import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import getPort from 'get-port';
import { Redis } from 'ioredis';
import { startLocalRedis, type LocalRedis } from '@taskpool/core/local-redis';
import { eventually } from './spawnService.ts';

/** Options of {@link startSentinelGroup}. */
export interface SentinelGroupOptions {
  /** Replicas of the master. Default: 1 (after a failover the new master then has none). */
  replicas?: number;
  /** The master group's name. Default: `'mymaster'`. */
  masterName?: string;
  /** How long the master must not answer before a sentinel holds it down (`down-after-milliseconds`). Default: 1000. */
  downAfterMs?: number;
  /** Where the servers keep their files. Default: a fresh temp dir, removed by `close()`. */
  dir?: string;
}

/**
 * A Redis master, its replicas and three Redis Sentinels (quorum 2) on 127.0.0.1, each on a free port
 * (never 6379), started by {@link startSentinelGroup}. Every process is stopped by its own pid.
 */
export interface SentinelGroup extends AsyncDisposable {
  /** `redis-sentinel://127.0.0.1:<port>,...,.../<masterName>`: the address clients and workers take. */
  url: string;
  masterName: string;
  /** Pid and port of the first master (the one {@link SentinelGroup.killMaster} kills). */
  masterPid: number;
  masterPort: number;
  /** Port of the first replica (the usual one to be promoted). */
  replicaPort: number;
  /** Ports of every replica. */
  replicaPorts: number[];
  sentinelPorts: number[];
  /** Sends SIGKILL to the first master (by pid) and waits for it to exit. It is not restarted. */
  killMaster(): Promise<void>;
  /**
   * Waits until every sentinel names another master than the first one and that server answers `ROLE` as a
   * master; resolves with its port. Default timeout: 30 s.
   */
  waitForFailover(timeoutMs?: number): Promise<number>;
  /** The port of the master the sentinels name now (asks the first sentinel that answers). */
  currentMasterPort(): Promise<number>;
  /** Stops every sentinel and server (SIGTERM, SIGKILL after 5 s) and removes the temp dir if the group made it. Safe to call twice. */
  close(): Promise<void>;
}

const STOP_GRACE_MS = 5_000;

/**
 * Starts a master, `replicas` replicas (`--replicaof`) and three sentinels (`redis-server <conf> --sentinel`,
 * quorum 2, down after `downAfterMs`, failover timeout 5 s) and waits until every sentinel sees the
 * replicas and a usable quorum (`SENTINEL CKQUORUM`). On failure, stops what it started.
 */
export async function startSentinelGroup(options: SentinelGroupOptions = {}): Promise<SentinelGroup> {
  const masterName = options.masterName ?? 'mymaster';
  const replicaCount = options.replicas ?? 1;
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'tp-sentinel-')));
  const servers: LocalRedis[] = [];
  const sentinels: ChildProcess[] = [];
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await Promise.all([...sentinels.map(stopChild), ...servers.map((server) => server.stop())]);
      if (ownDir) await rm(dir, { recursive: true, force: true });
    })();
    return closing;
  };

  try {
    const master = await startLocalRedis({ dir: join(dir, 'master') });
    servers.push(master);
    for (let i = 0; i < replicaCount; i++) {
      servers.push(await startLocalRedis({ dir: join(dir, `replica-${i}`), extraArgs: ['--replicaof', '127.0.0.1', String(master.port)] }));
    }
    const sentinelPorts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const { child, port } = await startSentinel(join(dir, `sentinel-${i}`), [
        `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 2`,
        `sentinel down-after-milliseconds ${masterName} ${options.downAfterMs ?? 1_000}`,
        `sentinel failover-timeout ${masterName} 5000`,
        `sentinel parallel-syncs ${masterName} 1`,
      ]);
      sentinels.push(child);
      sentinelPorts.push(port);
    }
    const replicaPorts = servers.slice(1).map((server) => server.port);
    await eventually(
      async () => (await Promise.all(sentinelPorts.map((port) => sentinelReady(port, masterName, replicaCount)))).every(Boolean),
      `every sentinel sees ${replicaCount} replica(s) and a usable quorum`,
      30_000,
      100,
    );

    const currentMasterPort = async (): Promise<number> => {
      for (const port of sentinelPorts) {
        const addr = await askSentinel(port, (redis) => redis.call('SENTINEL', 'get-master-addr-by-name', masterName)).catch(() => undefined);
        if (Array.isArray(addr)) return Number(addr[1]);
      }
      throw new Error('No sentinel answers');
    };

    return {
      url: `redis-sentinel://${sentinelPorts.map((port) => `127.0.0.1:${port}`).join(',')}/${masterName}`,
      masterName,
      masterPid: master.pid,
      masterPort: master.port,
      replicaPort: replicaPorts[0] ?? 0,
      replicaPorts,
      sentinelPorts,
      async killMaster() {
        process.kill(master.pid, 'SIGKILL');
        await master.stop();
      },
      async waitForFailover(timeoutMs = 30_000) {
        let promoted = 0;
        await eventually(
          async () => {
            const named = await Promise.all(
              sentinelPorts.map((port) => askSentinel(port, (redis) => redis.call('SENTINEL', 'get-master-addr-by-name', masterName)).catch(() => undefined)),
            );
            const ports = new Set(named.map((addr) => (Array.isArray(addr) ? Number(addr[1]) : 0)));
            const [port] = ports;
            if (ports.size !== 1 || port === undefined || port === 0 || port === master.port) return false;
            const role = await askSentinel(port, (redis) => redis.call('ROLE')).catch(() => undefined);
            promoted = port;
            return Array.isArray(role) && role[0] === 'master';
          },
          `a failover away from the master on port ${master.port}`,
          timeoutMs,
          100,
        );
        return promoted;
      },
      currentMasterPort,
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Starts one sentinel on a free port with a config file of its own (sentinels rewrite it), and waits for PING. */
async function startSentinel(dir: string, lines: string[]): Promise<{ child: ChildProcess; port: number }> {
  await mkdir(dir, { recursive: true });
  const port = await getPort({ host: '127.0.0.1', exclude: [6379, 26379] });
  const conf = join(dir, 'sentinel.conf');
  await writeFile(conf, [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, `logfile ${join(dir, 'sentinel.log')}`, 'daemonize no', ...lines, ''].join('\n'));
  const child = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));
  try {
    await eventually(
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`sentinel on port ${port} exited (see ${dir}/sentinel.log)`);
        return (await askSentinel(port, (redis) => redis.ping()).catch(() => undefined)) === 'PONG';
      },
      `the sentinel on port ${port} to answer`,
      10_000,
      50,
    );
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return { child, port };
}

/** True once the sentinel knows `replicas` replicas of the master and `SENTINEL CKQUORUM` reports three usable sentinels. */
async function sentinelReady(port: number, masterName: string, replicas: number): Promise<boolean> {
  return askSentinel(port, async (redis) => {
    const known = (await redis.call('SENTINEL', 'replicas', masterName)) as unknown[];
    if (known.length < replicas) return false;
    const quorum = String(await redis.call('SENTINEL', 'ckquorum', masterName).catch((error: Error) => error.message));
    return /^OK 3 usable/.test(quorum);
  }).catch(() => false);
}

/** Runs one exchange on a short-lived connection to 127.0.0.1:port that never retries. */
async function askSentinel<T>(port: number, exchange: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1_000 });
  redis.on('error', () => undefined); // failures reach the awaited calls
  try {
    await redis.connect();
    return await exchange(redis);
  } finally {
    redis.disconnect();
  }
}

/** SIGTERM to the child's pid, SIGKILL after a grace; waits for the exit. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}
