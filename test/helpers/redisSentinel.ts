import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startLocalRedis, type LocalRedis } from '../../scripts/localRedis.ts';
import { eventually } from './spawnService.ts';

/** Options of {@link startSentinelGroup}. */
export interface SentinelGroupOptions {
  /** Replicas of the master. Default: 1 (after a failover the new master then has none). */
  replicas?: number;
  /** The master group's name. Default: `'mymaster'`. */
  masterName?: string;
  /**
   * How long a master must not answer before a sentinel holds it down (`down-after-milliseconds`). Default:
   * 2000 (shorter makes failovers quicker, but on a loaded machine a stalled new master can be failed over
   * again).
   */
  downAfterMs?: number;
  /** Where the servers keep their files. Default: a fresh temp dir, removed by `close()`. */
  dir?: string;
  /**
   * Put a TCP relay of the group's in front of the first master: the sentinels, the replicas and the clients
   * reach it through the relay (the address the sentinels name), so that {@link SentinelGroup.holdReplication}
   * can stall its replication links. Default: false.
   */
  relayedReplication?: boolean;
}

/**
 * A Redis master, its replicas and three Redis Sentinels (quorum 2) on 127.0.0.1, each on a free port
 * (never 6379), started by {@link startSentinelGroup}. Every process is stopped by its own pid.
 */
export interface SentinelGroup extends AsyncDisposable {
  /** `redis-sentinel://127.0.0.1:<port>,...,.../<masterName>`: the address clients and workers take. */
  url: string;
  masterName: string;
  /** Pid and port of the first master (the one {@link SentinelGroup.killMaster} kills); with `relayedReplication` the sentinels name the relay's port instead. */
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
  /**
   * Stops relaying what the first master sends its replicas (needs `relayedReplication`; other connections
   * flow on): the master goes on acknowledging writes that no replica gets, as when replicas lag; what it
   * sends waits in the relay, and is discarded if the master dies. {@link SentinelGroup.releaseReplication}
   * sends it on.
   */
  holdReplication(): void;
  releaseReplication(): void;
  /** The port of the master the sentinels name now (asks the first sentinel that answers). */
  currentMasterPort(): Promise<number>;
  /** Stops every sentinel and server (SIGTERM, SIGKILL after 5 s) and removes the temp dir if the group made it. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Starts a master, `replicas` replicas (`--replicaof`) and three sentinels (`redis-server <conf> --sentinel`,
 * quorum 2, down after `downAfterMs`, failover timeout 5 s) and waits until the replicas are in sync and
 * every sentinel sees them and a usable quorum (`SENTINEL CKQUORUM`). On failure, stops what it started.
 */
export async function startSentinelGroup(options: SentinelGroupOptions = {}): Promise<SentinelGroup> {
  const masterName = options.masterName ?? 'mymaster';
  const replicaCount = options.replicas ?? 1;
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'tp-sentinel-')));
  const servers: LocalRedis[] = [];
  const sentinels: LocalRedis[] = [];
  const relays: ReplicationRelay[] = [];
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await Promise.all([...sentinels, ...servers, ...relays].map((part) => part.stop()));
      if (ownDir) await rm(dir, { recursive: true, force: true });
    })();
    return closing;
  };

  try {
    const master = await startLocalRedis({ dir: join(dir, 'master') });
    servers.push(master);
    // The address of the first master as the sentinels, replicas and clients know it.
    let masterAddressPort = master.port;
    if (options.relayedReplication) {
      const relay = await startReplicationRelay(master.port);
      relays.push(relay);
      masterAddressPort = relay.port;
    }
    for (let i = 0; i < replicaCount; i++) {
      servers.push(await startLocalRedis({ dir: join(dir, `replica-${i}`), extraArgs: ['--replicaof', '127.0.0.1', String(masterAddressPort)] }));
    }
    const sentinelPorts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const sentinel = await startSentinel(join(dir, `sentinel-${i}`), [
        `sentinel monitor ${masterName} 127.0.0.1 ${masterAddressPort} 2`,
        `sentinel down-after-milliseconds ${masterName} ${options.downAfterMs ?? 2_000}`,
        `sentinel failover-timeout ${masterName} 5000`,
        `sentinel parallel-syncs ${masterName} 1`,
      ]);
      sentinels.push(sentinel);
      sentinelPorts.push(sentinel.port);
    }
    const replicaPorts = servers.slice(1).map((server) => server.port);
    await eventually(
      async () =>
        (await replicasOnline(master.port)) >= replicaCount &&
        (await Promise.all(sentinelPorts.map((port) => sentinelReady(port, masterName, replicaCount)))).every(Boolean),
      `${replicaCount} replica(s) in sync, seen by every sentinel with a usable quorum`,
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
            if (ports.size !== 1 || port === undefined || port === 0 || port === masterAddressPort) return false;
            const role = await askSentinel(port, (redis) => redis.call('ROLE')).catch(() => undefined);
            promoted = port;
            return Array.isArray(role) && role[0] === 'master';
          },
          `a failover away from the master on port ${masterAddressPort}`,
          timeoutMs,
          100,
        );
        return promoted;
      },
      holdReplication() {
        if (relays.length === 0) throw new Error('holdReplication needs startSentinelGroup({ relayedReplication: true })');
        for (const relay of relays) relay.hold(true);
      },
      releaseReplication() {
        for (const relay of relays) relay.hold(false);
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

/** A TCP relay in front of a master whose replication links (connections that sent `REPLCONF`) can be held master-to-replica. */
interface ReplicationRelay {
  port: number;
  hold(on: boolean): void;
  stop(): Promise<void>;
}

interface RelayedLink {
  client: Socket;
  master: Socket;
  replication: boolean;
  held: Buffer[];
}

async function startReplicationRelay(masterPort: number): Promise<ReplicationRelay> {
  const links = new Set<RelayedLink>();
  let holding = false;
  const server: Server = createServer((client) => {
    const link: RelayedLink = { client, master: connect(masterPort, '127.0.0.1'), replication: false, held: [] };
    links.add(link);
    const end = (): void => {
      links.delete(link);
      link.client.destroy();
      link.master.destroy();
    };
    for (const socket of [link.client, link.master]) socket.on('error', end).on('close', end);
    client.on('data', (chunk: Buffer) => {
      // Only a replica sends REPLCONF (its handshake: listening-port, capa, then PSYNC).
      if (!link.replication && /REPLCONF/i.test(chunk.toString('latin1'))) link.replication = true;
      link.master.write(chunk);
    });
    link.master.on('data', (chunk: Buffer) => (holding && link.replication ? link.held.push(chunk) : link.client.write(chunk)));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    hold(on) {
      holding = on;
      if (on) return;
      for (const link of links) for (const chunk of link.held.splice(0)) link.client.write(chunk);
    },
    async stop() {
      for (const link of links) {
        link.client.destroy();
        link.master.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Starts one sentinel on a free port with a config file of its own (sentinels rewrite it). */
async function startSentinel(dir: string, lines: string[]): Promise<LocalRedis> {
  await mkdir(dir, { recursive: true });
  const configFile = join(dir, 'sentinel.conf');
  await writeFile(configFile, [...lines, ''].join('\n'));
  return startLocalRedis({ dir, configFile, extraArgs: ['--sentinel'] });
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

/** How many replicas the master streams to (`state=online`: the first sync is over). */
async function replicasOnline(masterPort: number): Promise<number> {
  const info = await askSentinel(masterPort, (redis) => redis.info('replication')).catch(() => '');
  return info.match(/^slave\d+:.*state=online/gm)?.length ?? 0;
}

/** Runs one exchange on a short-lived connection to 127.0.0.1:port (a sentinel or a server) that never retries. */
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
