/**
 * A pre-auth flood for tests and the `abuse` bench: stalled connections (TCP connect, read the
 * server's identification line, then send nothing) from many loopback source addresses, each
 * reopened as soon as the server closes it, until a fixed deadline. Linux routes all of
 * 127.0.0.0/8 to lo, so binding the client socket to 127.0.x.y gives each slot a distinct source.
 *
 * Contract: traffic goes only to `host` (a loopback address); the flood stops by itself at
 * `durationMs` (or on `stop()`, idempotent), destroying every socket it opened, and resolves
 * `done` with its counts. At most `sources.length * perSource` sockets are open at once.
 */
import { connect, type Socket } from 'node:net';

export interface FloodOptions {
  readonly host: string;
  readonly port: number;
  /** Local addresses to bind, e.g. 127.0.1.1 … */
  readonly sources: readonly string[];
  /** Stalled connections held per source. */
  readonly perSource: number;
  readonly durationMs: number;
  /** Pause before reopening a closed slot (0 = at once, on the next tick). */
  readonly reopenDelayMs?: number;
}

export interface FloodCounts {
  /** Connection attempts made. */
  attempts: number;
  /** Connections on which the server's identification line arrived. */
  banners: number;
  /** Connections the server closed (refused, timed out, evicted). */
  closedByServer: number;
  /** Most sockets open at once. */
  peakOpen: number;
}

export interface Flood {
  readonly counts: FloodCounts;
  readonly done: Promise<FloodCounts>;
  stop(): Promise<FloodCounts>;
}

/**
 * `count` loopback addresses, `perBlock` (at most 254) in each of 127.0.1.x, 127.0.2.x, …:
 * loopbackSources(200, 100) is 127.0.1.1–127.0.1.100 and 127.0.2.1–127.0.2.100. Never 127.0.0.x.
 */
export function loopbackSources(count: number, perBlock = 254): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    out.push(`127.0.${1 + Math.floor(i / perBlock)}.${(i % perBlock) + 1}`);
  }
  return out;
}

export function startFlood(opts: FloodOptions): Flood {
  const counts: FloodCounts = { attempts: 0, banners: 0, closedByServer: 0, peakOpen: 0 };
  const open = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;
  let finish: (c: FloodCounts) => void = () => {};
  const done = new Promise<FloodCounts>((r) => {
    finish = r;
  });

  const openSlot = (source: string) => {
    if (stopped) return;
    counts.attempts += 1;
    const sock = connect({ host: opts.host, port: opts.port, localAddress: source });
    open.add(sock);
    counts.peakOpen = Math.max(counts.peakOpen, open.size);
    let banner = false;
    sock.on('error', () => {});
    sock.on('data', () => {
      if (!banner) counts.banners += 1;
      banner = true;
    });
    sock.once('close', () => {
      open.delete(sock);
      if (stopped) return;
      counts.closedByServer += 1;
      const delay = opts.reopenDelayMs ?? 0;
      const t = setTimeout(() => {
        timers.delete(t);
        openSlot(source);
      }, delay);
      timers.add(t);
    });
  };

  const stop = async (): Promise<FloodCounts> => {
    if (!stopped) {
      stopped = true;
      clearTimeout(deadline);
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const closing = [...open].map(
        (s) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r()))),
      );
      for (const s of open) s.destroy();
      await Promise.all(closing);
      finish(counts);
    }
    return done;
  };

  const deadline = setTimeout(() => void stop(), opts.durationMs);
  for (let i = 0; i < opts.perSource; i++) for (const source of opts.sources) openSlot(source);
  return { counts, done, stop };
}
