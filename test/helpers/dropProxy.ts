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
  close(): Promise<void>;
}

/** Starts a proxy on a free local port that forwards to the Redis of `redisUrl`. */
export async function startDropProxy(redisUrl: string): Promise<DropProxy> {
  const target = new URL(redisUrl);
  const pairs = new Set<[Socket, Socket]>();
  let refusing = false;
  let accepted = 0;
  const server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    accepted++;
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
    close,
    [Symbol.asyncDispose]: close,
  };
}
