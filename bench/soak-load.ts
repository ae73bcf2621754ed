/**
 * The soak's load, in-process over ssh2 (as bench/loadgen.ts): churning devices and operators
 * moving bytes through the relays.
 *
 * - A device connects to a random relay, registers `NAME:22`, echoes every channel opened to it,
 *   and after a random lifetime disconnects and comes back (to a random relay); when its relay
 *   dies it comes back after a short random wait.
 * - An operator connects to a random relay, opens a channel to a random device name, writes a
 *   random block, and reads it back. A transfer that completes must return exactly the bytes
 *   sent (a mismatch is a lost or corrupted byte); one cut by a relay kill or a device leaving is
 *   counted as interrupted, which is what TCP does too.
 */
import { createHash, randomBytes } from 'node:crypto';
import { toSsh2Key } from '../src/ssh/keys.js';
import ssh2 from '../src/ssh/ssh2.js';

export interface LoadStats {
  /** Devices currently registered. */
  registered: number;
  registrations: number;
  deviceFailures: number;
  transfersOk: number;
  transfersInterrupted: number;
  /** Completed transfers whose echoed bytes differed from those sent: must stay 0. */
  transfersMismatched: number;
  bytesVerified: number;
}

export interface LoadOptions {
  readonly relays: () => { host: string; port: number }[];
  readonly devices: number;
  readonly operators: number;
  readonly deviceKey: string;
  readonly operatorKey: string;
  /** A device's lifetime on one connection is uniform in [min, max] ms. */
  readonly lifetimeMs: readonly [number, number];
  readonly transferBytes: number;
  /** SSH handshakes in flight at once (the rest wait their turn), so a kill's reconnect storm
   * or the start does not starve the event loop. */
  readonly handshakes: number;
  readonly rand: () => number;
}

export interface Load {
  readonly stats: LoadStats;
  /** Stops creating load, closes every connection; resolves once all loops have ended. */
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function startLoad(o: LoadOptions): Load {
  const stats: LoadStats = {
    registered: 0,
    registrations: 0,
    deviceFailures: 0,
    transfersOk: 0,
    transfersInterrupted: 0,
    transfersMismatched: 0,
    bytesVerified: 0,
  };
  const devKey = toSsh2Key(o.deviceKey);
  const opKey = toSsh2Key(o.operatorKey);
  const live = new Set<ssh2.Client>();
  let stopped = false;
  const pick = <T>(list: readonly T[]): T => list[Math.floor(o.rand() * list.length)] as T;

  let inFlight = 0;
  const turns: (() => void)[] = [];
  /** A device's connection waits for a handshake slot; operators (few) go straight on. */
  const connect = async (username: string, key: unknown): Promise<ssh2.Client> => {
    if (inFlight >= o.handshakes) await new Promise<void>((r) => turns.push(r));
    if (stopped) throw new Error('stopped');
    inFlight++;
    try {
      return await handshake(username, key);
    } finally {
      inFlight--;
      turns.shift()?.();
    }
  };
  const handshake = (username: string, key: unknown): Promise<ssh2.Client> =>
    new Promise((resolve, reject) => {
      const c = new ssh2.Client();
      const target = pick(o.relays());
      c.once('ready', () => resolve(c));
      c.on('error', reject); // after 'ready' too: a killed relay errors a live connection
      c.once('close', () => reject(new Error('closed before ready')));
      c.connect({
        host: target.host,
        port: target.port,
        username,
        authHandler: [{ type: 'publickey', username, key }] as never,
        readyTimeout: 20_000,
        keepaliveInterval: 5000,
        keepaliveCountMax: 3,
        hostVerifier: () => true, // the soak measures leaks, not trust
      });
    });

  /** One device: connect, register, echo, leave after its lifetime; again until stopped. */
  const device = async (name: string): Promise<void> => {
    // Spread the first connections over the first lifetime.
    await sleep(o.rand() * o.lifetimeMs[0]);
    while (!stopped) {
      let c: ssh2.Client | undefined;
      try {
        c = await connect(name, devKey);
        live.add(c);
        if (stopped) throw new Error('stopped'); // its handshake ended after stop() swept
        const client = c;
        client.on('error', () => {});
        client.on('tcp connection', (_info, accept) => {
          const ch = accept();
          ch.on('error', () => {});
          ch.pipe(ch);
        });
        // ssh2 may never call back when the connection closes first.
        await new Promise<void>((resolve, reject) => {
          client.once('close', () => reject(new Error('closed')));
          client.forwardIn(name, 22, (err) => (err ? reject(err) : resolve()));
        });
        stats.registrations++;
        stats.registered++;
        const [lo, hi] = o.lifetimeMs;
        await Promise.race([
          sleep(lo + o.rand() * (hi - lo)),
          new Promise<void>((r) => client.once('close', () => r())),
        ]);
        stats.registered--;
      } catch {
        stats.deviceFailures++;
      } finally {
        if (c) {
          live.delete(c);
          c.end();
          c.destroy();
        }
      }
      await sleep(100 + o.rand() * 900);
    }
  };

  /** One echo transfer through `c` to `name`: ok, interrupted, or mismatched. */
  const transfer = (c: ssh2.Client, name: string): Promise<void> =>
    new Promise((resolve) => {
      const sent = randomBytes(o.transferBytes);
      const want = createHash('sha256').update(sent).digest('hex');
      let done = false;
      const finish = (outcome: 'ok' | 'interrupted' | 'mismatched') => {
        if (done) return;
        done = true;
        if (outcome === 'ok') {
          stats.transfersOk++;
          stats.bytesVerified += sent.length;
        } else if (outcome === 'interrupted') stats.transfersInterrupted++;
        else stats.transfersMismatched++;
        resolve();
      };
      const timer = setTimeout(() => finish('interrupted'), 30_000);
      c.forwardOut('127.0.0.1', 0, name, 22, (err, ch) => {
        if (err) {
          clearTimeout(timer);
          return finish('interrupted');
        }
        const got: Buffer[] = [];
        let n = 0;
        ch.on('error', () => {});
        ch.on('data', (d: Buffer) => {
          got.push(d);
          n += d.length;
          if (n < sent.length) return;
          clearTimeout(timer);
          const have = createHash('sha256').update(Buffer.concat(got)).digest('hex');
          ch.close();
          finish(n === sent.length && have === want ? 'ok' : 'mismatched');
        });
        ch.on('close', () => {
          clearTimeout(timer);
          finish('interrupted');
        });
        ch.write(sent);
      });
    });

  const operator = async (): Promise<void> => {
    while (!stopped) {
      let c: ssh2.Client | undefined;
      try {
        c = await handshake('operator', opKey);
        live.add(c);
        if (stopped) break;
        c.on('error', () => {});
        for (let i = 0; i < 20 && !stopped; i++) {
          await transfer(c, `soak-${Math.floor(o.rand() * o.devices)}`);
        }
      } catch {
        stats.transfersInterrupted++;
        await sleep(200);
      } finally {
        if (c) {
          live.delete(c);
          c.end();
          c.destroy();
        }
      }
    }
  };

  const loops = [
    ...Array.from({ length: o.devices }, (_, i) => device(`soak-${i}`)),
    ...Array.from({ length: o.operators }, () => operator()),
  ];
  return {
    stats,
    async stop() {
      stopped = true;
      for (const turn of turns.splice(0)) turn();
      for (const c of live) c.destroy();
      // Every loop ends within a handshake's timeout or a transfer's; bounded anyway.
      await Promise.race([Promise.all(loops), sleep(30_000)]);
    },
  };
}
