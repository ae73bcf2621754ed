/**
 * A peer that ignores the SSH channel window, for the relay's flow-control test and the `abuse`
 * bench: `burrow relay` as a CLI process (so its RSS is its own), a real OpenSSH device serving
 * `dev1:22` from a TCP service that can stop reading, and an ssh2 client that writes raw
 * SSH_MSG_CHANNEL_DATA packets through ssh2's protocol object, ignoring the window the relay
 * grants it (ssh2 internals: allowed in tests and benches only).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import ssh2 from '../../src/ssh/ssh2.js';
import { generateKey, type KeyPair } from './keys.js';
import type { Proc } from './proc.js';
import { rssKiB } from './procstat.js';
import { relayClient, startCli } from './relay.js';
import type { Scope } from './scope.js';
import { tmpDir } from './tmp.js';
import { waitFor } from './wait.js';

/** What the device's local service does with a connection. */
export type TargetMode = 'sink' | 'echo';

export interface WindowWorld {
  readonly relay: Proc;
  readonly port: number;
  readonly hostKeyPub: string;
  /** The operator key (may open dev1:22), as OpenSSH key pair and as private key text. */
  readonly opKey: KeyPair;
  readonly opPrivateKey: string;
  /** The device key (may register dev1:22), as private key text. */
  readonly devPrivateKey: string;
  /**
   * 'sink' (the default): the device's service accepts and never reads, so the device stops
   * granting window and the relay's bridge fills. 'echo': it echoes, for a client after the attack.
   */
  setTarget(mode: TargetMode): void;
  /** The relay's audit lines (JSON, from its stdout) of one event. */
  audit(event: string): Record<string, unknown>[];
}

/**
 * Starts `burrow relay` (audit on stdout), a TCP service and an OpenSSH `ssh -N -R dev1:22:…`
 * device, all cleaned up by `scope`; resolves once the relay has audited the registration.
 * With `device: false` no device is started (the test brings its own with `devPrivateKey`).
 */
export async function startWindowWorld(
  scope: Scope,
  opts: { device?: boolean } = {},
): Promise<WindowWorld> {
  const dir = await tmpDir(scope, 'burrow-window-');
  const hostKey = await generateKey(dir, 'host_key');
  const devKey = await generateKey(dir, 'device');
  const opKey = await generateKey(dir, 'operator');
  const keysPath = join(dir, 'authorized_keys');
  await writeFile(
    keysPath,
    `permitlisten="dev1:22" ${devKey.publicKey}\npermitopen="dev1:22" ${opKey.publicKey}\n`,
    { mode: 0o600 },
  );

  let mode: TargetMode = 'sink';
  const sockets = new Set<Socket>();
  const target = await listen(
    createServer((sock) => {
      sockets.add(sock);
      sock.once('close', () => sockets.delete(sock));
      sock.on('error', () => {});
      if (mode === 'echo') sock.pipe(sock);
      else sock.pause();
    }),
  );
  scope.defer(() => closeServer(target, sockets), 'window target service');

  const relay = startCli(scope, [
    'relay',
    '--listen',
    '127.0.0.1:0',
    '--host-key',
    hostKey.path,
    '--authorized-keys',
    keysPath,
    '--log-level',
    'warn',
  ]);
  const m = await relay.waitForLine(/"event":"relay.started".*"listen":"127\.0\.0\.1:(\d+)"/, {
    stream: 'stdout',
  });
  const port = Number(m[1]);
  const audit = (event: string) =>
    relay
      .output('stdout')
      .split('\n')
      .filter((l) => l.includes(`"event":"${event}"`))
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  if (opts.device !== false) {
    const device = await relayClient(scope, { port, hostKeyPub: hostKey.publicKey }, devKey);
    const targetPort = (target.address() as { port: number }).port;
    const dev = device.spawn(
      ['-N', '-o', 'ExitOnForwardFailure=yes', '-R', `dev1:22:127.0.0.1:${targetPort}`, 'relay'],
      { name: 'device dev1' },
    );
    await waitFor(
      () => {
        if (dev.exit) throw new Error(`device ssh exited: ${dev.tail()}`);
        return audit('name.registered').some((e) => e.name === 'dev1');
      },
      { what: 'relay to register dev1', timeoutMs: 10_000 },
    );
  }
  return {
    relay,
    port,
    hostKeyPub: hostKey.publicKey,
    opKey,
    opPrivateKey: await readFile(opKey.path, 'utf8'),
    devPrivateKey: await readFile(devKey.path, 'utf8'),
    setTarget: (next) => {
      mode = next;
    },
    audit,
  };
}

export interface AttackOptions {
  readonly port: number;
  readonly privateKey: string;
  /** Stop after this many bytes of channel data, if the relay has not disconnected first. */
  readonly bytes: number;
  /** Data bytes per CHANNEL_DATA packet; the relay advertises 32 KiB as its maximum. */
  readonly packetBytes: number;
}

export interface AttackResult {
  /** Channel data bytes handed to the socket before the relay disconnected (or `bytes`). */
  readonly bytesPushed: number;
  /** The relay closed the connection. */
  readonly peerClosed: boolean;
}

/** An ssh2 client logged in to the relay; its socket is destroyed when `scope` closes. */
export async function login(scope: Scope, port: number, privateKey: string): Promise<ssh2.Client> {
  const client = new ssh2.Client();
  scope.defer(() => {
    client.end();
    (client as unknown as { _sock?: Socket })._sock?.destroy();
  }, 'ssh2 client');
  client.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve);
    client.once('error', reject);
    client.connect({ host: '127.0.0.1', port, username: 'x', privateKey, readyTimeout: 10_000 });
  });
  return client;
}

/**
 * A device that registers dev1:22, grants every channel opened to it a 1 GiB window at once,
 * and never reads its TCP socket again: the relay may send it that much, but nothing arrives.
 */
export async function startGreedyDevice(scope: Scope, port: number, privateKey: string) {
  const device = await login(scope, port, privateKey);
  const internals = device as unknown as {
    _protocol: { channelWindowAdjust(id: number, amount: number): void };
    _sock: Socket;
  };
  device.on('tcp connection', (_info, accept) => {
    const ch = accept();
    const remoteId = (ch as unknown as { outgoing: { id: number } }).outgoing.id;
    internals._protocol.channelWindowAdjust(remoteId, 1024 * 1024 * 1024);
    internals._sock.pause();
  });
  await new Promise<void>((resolve, reject) =>
    device.forwardIn('dev1', 22, (err) => (err ? reject(err) : resolve())),
  );
}

/**
 * An honest client: opens dev1:22 and writes up to `bytes` through ssh2's channel, which keeps
 * to the window; stops early once a write has waited `stallMs` for the window. Returns what it
 * wrote.
 */
export async function honestPush(
  scope: Scope,
  opts: { port: number; privateKey: string; bytes: number; stallMs: number },
): Promise<{ bytesWritten: number; stalled: boolean }> {
  const client = await login(scope, opts.port, opts.privateKey);
  const channel = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
    client.forwardOut('127.0.0.1', 1, 'dev1', 22, (err, ch) => (err ? reject(err) : resolve(ch))),
  );
  const chunk = Buffer.alloc(64 * 1024, 0x62);
  let written = 0;
  while (written < opts.bytes) {
    written += chunk.length;
    if (channel.write(chunk)) continue;
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      new Promise<boolean>((resolve) => channel.once('drain', () => resolve(true))),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), opts.stallMs);
      }),
    ]);
    clearTimeout(timer);
    if (!drained) return { bytesWritten: written, stalled: true };
  }
  return { bytesWritten: written, stalled: false };
}

/** Bytes the attacker lets queue in its own socket before waiting for it to drain. */
const ATTACKER_QUEUE_BYTES = 1024 * 1024;

/**
 * Logs in with `privateKey`, opens a direct-tcpip channel to dev1:22 through the relay and
 * writes CHANNEL_DATA packets of `packetBytes` regardless of the window, until `bytes` are
 * written or the relay closes the connection. Waits (bounded) for the close after the last
 * packet, and always ends its own connection.
 */
export async function windowAttack(opts: AttackOptions): Promise<AttackResult> {
  const client = new ssh2.Client();
  client.on('error', () => {});
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('ready', resolve);
      client.once('error', reject);
      client.connect({
        host: '127.0.0.1',
        port: opts.port,
        username: 'attacker',
        privateKey: opts.privateKey,
        readyTimeout: 10_000,
      });
    });
    const channel = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
      client.forwardOut('127.0.0.1', 1, 'dev1', 22, (err, ch) => (err ? reject(err) : resolve(ch))),
    );
    return await pushPastWindow(client, channel, opts);
  } finally {
    client.end();
    (client as unknown as { _sock?: Socket })._sock?.destroy();
  }
}

/**
 * Writes CHANNEL_DATA packets of `packetBytes` on `channel` of `client` (either end of a
 * channel) regardless of its window, until `bytes` are written or the peer closes the
 * connection; then waits (at most 2 s) for a close the last packets may still cause.
 */
export async function pushPastWindow(
  client: ssh2.Client,
  channel: ssh2.Channel | ssh2.ClientChannel,
  opts: { bytes: number; packetBytes: number },
): Promise<AttackResult> {
  // ssh2 internals: the protocol object writes any packet; the socket is where it goes.
  const internals = client as unknown as {
    _protocol: { channelData(id: number, data: Buffer): void };
    _sock: Socket;
  };
  const sock = internals._sock;
  let closed = sock.destroyed;
  const closedP = new Promise<void>((resolve) => {
    if (closed) resolve();
    sock.once('close', () => {
      closed = true;
      resolve();
    });
  });
  const remoteId = (channel as unknown as { outgoing: { id: number } }).outgoing.id;
  const packet = Buffer.alloc(opts.packetBytes, 0x61);
  let pushed = 0;
  while (pushed < opts.bytes && !closed && sock.writable) {
    internals._protocol.channelData(remoteId, packet);
    pushed += packet.length;
    if (sock.writableLength > ATTACKER_QUEUE_BYTES) {
      await Promise.race([new Promise((resolve) => sock.once('drain', resolve)), closedP]);
    }
  }
  // A disconnect for the last packets arrives a round trip later.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    closedP,
    new Promise((resolve) => {
      timer = setTimeout(resolve, 2000);
    }),
  ]);
  clearTimeout(timer);
  return { bytesPushed: pushed, peerClosed: closed };
}

/** Reads the VmRSS of `pid` every `everyMs` and keeps the peak; stop() returns it in KiB. */
export function sampleRss(pid: number, everyMs = 20): { stop(): number } {
  let peak = rssKiB(pid) ?? 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssKiB(pid) ?? 0);
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, rssKiB(pid) ?? 0);
    },
  };
}

function listen(server: Server): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Sockets kept paused by 'sink' never end on their own.
    for (const s of sockets) s.destroy();
  });
}
