/**
 * An in-test TCP proxy on 127.0.0.1:0 for injecting network faults between two real programs.
 *
 * blackhole() models a dead network, not a closed one: no byte moves in either direction and no
 * socket is closed, so both ends only notice through their own timeouts. Bytes sent meanwhile are
 * held (the sending side is paused, so kernel buffers fill and writers see backpressure) and
 * delivered in order by resume(), as TCP would after the network recovers; an end or close that
 * happens while blackholed is also delivered only on resume(). Connections accepted while
 * blackholed get no upstream connection until resume().
 */
import { connect, createServer, type Socket } from 'node:net';

import type { Scope } from './scope.js';

export interface TcpProxy {
  host: '127.0.0.1';
  port: number;
  /** Stops forwarding in both directions, closing nothing. */
  blackhole(): void;
  /** Delivers what was held and forwards again. */
  resume(): void;
  /** Destroys every current connection pair, with a TCP RST where possible (see reset()). */
  cutAll(): void;
  /** Stops listening and cuts all connections. Idempotent. */
  close(): Promise<void>;
  /** Bytes forwarded client → target and target → client. */
  readonly bytesUp: number;
  readonly bytesDown: number;
  /** Bytes currently held by blackhole(). */
  readonly heldBytes: number;
  /** Connection pairs currently open, and accepted in total. */
  readonly connections: number;
  readonly accepted: number;
  readonly blackholed: boolean;
}

/**
 * Destroys `socket`, with a TCP RST unless we already half-closed it: Node's resetAndDestroy()
 * on a socket with a shutdown pending fails inside libuv (EINVAL) and leaves a handle that is
 * never closed, which makes the process spin forever at exit (seen on Node 20.20).
 */
function reset(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.writableEnded) {
    socket.destroy();
    return;
  }
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

type Held = Buffer | 'end' | 'reset';

interface Direction {
  from: Socket;
  to: Socket;
  held: Held[];
  count: (n: number) => void;
  /** Set while `to` has refused a write; `from` stays paused until it drains. */
  draining: boolean;
}

/** Starts a proxy to target (a port on 127.0.0.1, or host and port); closed with the scope. */
export async function startProxy(
  scope: Scope,
  target: number | { host: string; port: number },
): Promise<TcpProxy> {
  const to = typeof target === 'number' ? { host: '127.0.0.1', port: target } : target;
  const pairs = new Set<{ client: Socket; upstream?: Socket; directions: Direction[] }>();
  const waiting: (() => void)[] = [];
  const stats = { up: 0, down: 0, held: 0, accepted: 0 };
  let holding = false;
  let closing: Promise<void> | undefined;

  const deliver = (d: Direction, item: Held): void => {
    if (item === 'end') {
      if (!d.to.writableEnded) d.to.end();
    } else if (item === 'reset') {
      reset(d.to);
    } else {
      d.count(item.length);
      if (!d.to.write(item) && !d.draining) {
        d.draining = true;
        d.from.pause();
        d.to.once('drain', () => {
          d.draining = false;
          if (!holding) d.from.resume();
        });
      }
    }
  };
  const accept = (d: Direction, item: Held): void => {
    if (holding) {
      d.held.push(item);
      if (typeof item !== 'string') stats.held += item.length;
      d.from.pause();
    } else {
      deliver(d, item);
    }
  };
  const wire = (d: Direction): void => {
    d.from.on('data', (chunk: Buffer) => accept(d, chunk));
    d.from.on('end', () => accept(d, 'end'));
    // A clean close was preceded by 'end'; a reset (error) is passed on as a reset.
    d.from.on('close', (hadError) => accept(d, hadError ? 'reset' : 'end'));
    d.from.on('error', () => {}); // followed by 'close'
  };

  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    stats.accepted++;
    const pair: { client: Socket; upstream?: Socket; directions: Direction[] } = {
      client,
      directions: [],
    };
    pairs.add(pair);
    client.on('error', () => {});
    client.on('close', () => {
      if (!pair.upstream) pairs.delete(pair);
    });
    const open = (): void => {
      if (client.destroyed) return;
      const upstream = connect({ ...to, allowHalfOpen: true });
      pair.upstream = upstream;
      const up: Direction = {
        from: client,
        to: upstream,
        held: [],
        count: (n) => (stats.up += n),
        draining: false,
      };
      const down: Direction = {
        from: upstream,
        to: client,
        held: [],
        count: (n) => (stats.down += n),
        draining: false,
      };
      pair.directions = [up, down];
      wire(up);
      wire(down);
      let closed = 0;
      const onClose = (): void => {
        if (++closed === 2) pairs.delete(pair);
      };
      client.on('close', onClose);
      upstream.on('close', onClose);
      client.resume();
    };
    if (holding) waiting.push(open);
    else open();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  const cutAll = (): void => {
    for (const pair of pairs) {
      reset(pair.client);
      if (pair.upstream) reset(pair.upstream);
      for (const d of pair.directions) d.held.length = 0;
    }
    pairs.clear();
    stats.held = 0;
  };

  const proxy: TcpProxy = {
    host: '127.0.0.1',
    port,
    blackhole: () => {
      holding = true;
    },
    resume: () => {
      holding = false;
      stats.held = 0;
      for (const pair of pairs) {
        for (const d of pair.directions) {
          for (const item of d.held.splice(0)) deliver(d, item);
          if (!d.from.destroyed && !d.draining) d.from.resume();
        }
      }
      for (const open of waiting.splice(0)) open();
    },
    cutAll,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        waiting.length = 0;
        server.close(() => resolve());
        cutAll();
      });
      return closing;
    },
    get bytesUp() {
      return stats.up;
    },
    get bytesDown() {
      return stats.down;
    },
    get heldBytes() {
      return stats.held;
    },
    get connections() {
      return pairs.size;
    },
    get accepted() {
      return stats.accepted;
    },
    get blackholed() {
      return holding;
    },
  };
  scope.defer(() => proxy.close(), `close proxy :${port} → ${to.host}:${to.port}`);
  return proxy;
}
