import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';

/** A TCP proxy in front of Redis whose connections a test can cut: what a client sees when Redis or the network drops it. */
export interface DropProxy extends AsyncDisposable {
  /** `redis://` URL of the proxy. */
  readonly url: string;
  /** Connections accepted so far (a client that reconnects opens new ones). */
  readonly accepted: number;
  /** Destroys every open connection, both ways. */
  dropAll(): void;
  /** Until `refuse(false)`, closes each new connection at once (Redis unreachable). */
  refuse(on: boolean): void;
  /**
   * Until `blackhole(false)`, forwards nothing either way, on open connections and new ones alike, and closes
   * nothing: a network cut that neither side is told about (no FIN, no RST). The bytes sent meanwhile wait
   * (as in TCP buffers) and are delivered, in order, once the cut heals.
   */
  blackhole(on: boolean): void;
  close(): Promise<void>;
}

/** Starts a proxy on a free local port that forwards to the Redis of `redisUrl`. */
export async function startDropProxy(redisUrl: string): Promise<DropProxy> {
  const target = new URL(redisUrl);
  const pairs = new Set<[Socket, Socket]>();
  /** Clients accepted during a blackhole, linked to Redis when it ends. */
  const held = new Set<Socket>();
  let refusing = false;
  let cut = false;
  let accepted = 0;
  const link = (client: Socket): void => {
    const upstream = connect(Number(target.port || 6379), target.hostname);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of pair) socket.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  };
  const server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    accepted++;
    if (!cut) return link(client);
    client.pause();
    held.add(client);
    client.on('error', () => client.destroy()).on('close', () => held.delete(client));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const dropAll = (): void => {
    for (const [client, upstream] of [...pairs]) {
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
    for (const client of held) client.destroy();
    held.clear();
  };
  const blackhole = (on: boolean): void => {
    if (on === cut) return;
    cut = on;
    for (const [client, upstream] of pairs) {
      if (on) {
        // Unpiped and paused, a socket reads nothing: what arrives stays in the kernel's buffers.
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      } else {
        client.pipe(upstream);
        upstream.pipe(client);
      }
    }
    if (!on) {
      for (const client of held) {
        client.removeAllListeners('close').removeAllListeners('error');
        link(client);
      }
      held.clear();
    }
  };
  const close = async (): Promise<void> => {
    dropAll();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    get accepted() {
      return accepted;
    },
    dropAll,
    refuse: (on) => void (refusing = on),
    blackhole,
    close,
    [Symbol.asyncDispose]: close,
  };
}
