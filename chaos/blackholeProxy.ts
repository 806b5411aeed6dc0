import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

/**
 * A TCP proxy in front of Redis that can stop forwarding without closing anything: what a worker sees in a
 * network partition. Unlike `test/helpers/dropProxy.ts`, which closes connections (a client notices at once),
 * a blackhole keeps every socket open and stops reading from both sides, so bytes wait in the kernel's buffers
 * as packets wait for retransmission; a client notices only if it times something out itself. `heal()`
 * forwards everything held back, in order, as TCP would after the partition.
 */
export interface BlackholeProxy {
  /** `redis://` URL of the proxy. */
  readonly url: string;
  /** Stops forwarding (true) or forwards again (false); connections opened meanwhile wait too. */
  blackhole(on: boolean): void;
  close(): Promise<void>;
}

/** Starts a proxy on a free 127.0.0.1 port that forwards to the Redis of `redisUrl`. */
export async function startBlackholeProxy(redisUrl: string): Promise<BlackholeProxy> {
  const target = new URL(redisUrl);
  const sockets = new Set<Socket>();
  let holding = false;
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    if (holding) socket.pause();
  };
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    track(client);
    track(upstream);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    // pipe() would resume a paused source on the destination's 'drain'; forward by hand so a pause holds.
    client.on('data', (chunk) => void upstream.write(chunk));
    upstream.on('data', (chunk) => void client.write(chunk));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    blackhole(on) {
      holding = on;
      for (const socket of sockets) {
        if (on) socket.pause();
        else socket.resume();
      }
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
