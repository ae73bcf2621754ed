/**
 * Experiment, not a measured target: `npm run bench -- experiments/relay-floor [--size 1G]`.
 * What it showed: at load average 17, AES-128-GCM costs 0.31 CPU-s per GiB each way and a bare
 * Node loopback copy 1.0, so the relay (decrypt, encrypt, copy) cannot go below about 1.6 there;
 * the same job in C costs 1.1 to 1.7 a packet at a time and 0.8 to 1.1 batched by the MiB on
 * quieter hours (bench/relay.md, "Floors").
 *
 * Measures what the relay's data path costs at the least on this machine, in CPU-seconds per
 * GiB, so the relay's figure has its floor beside it:
 *
 * - the cipher alone: `openssl speed -evp` for aes-128-gcm, aes-256-gcm and chacha20-poly1305
 *   at 16 KiB blocks (openssl counts user CPU time by default: waiting for a core is not counted);
 * - ssh2's AES-128-GCM packet path, in this process: `createCipher` (allocPacket + encrypt) and
 *   `createDecipher` on 32 KiB channel-sized packets, once with ssh2's native binding
 *   (sshcrypto.node, used when it loaded) and once with node:crypto (what ssh2 falls back to where
 *   the binding does not load);
 * - Node moving bytes over loopback TCP: a child process that only pipes one socket into another
 *   (`a.pipe(b)`), fed SIZE bytes by this process and drained by it; its own CPU per GiB, with
 *   V8's defaults and with the setting burrow's executables run with (src/core/v8-flags.ts).
 * - the same job in C (relay-floor.c, compiled here with `cc -O2 ... -lcrypto`): a process that
 *   reads AES-128-GCM packets from loopback TCP, decrypts and encrypts each again with OpenSSL and
 *   writes it to loopback TCP, one packet per read and write and then batched in reads and writes
 *   of up to 1 MiB; and the same two without the cipher. No relay in any language goes below it.
 * The relay decrypts each byte once (the operator's connection) and encrypts it once (the
 * device's), and moves it from one socket to another: the sum of those three is its floor.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { ssh2PacketCrypto } from '../../src/ssh/ssh2.js';
import { compileExperiment } from '../lib/cc.js';
import { parseSize } from '../lib/flags.js';
import { runBenchMain } from '../lib/report.js';
import { terminalTable } from '../lib/table.js';

const NAME = 'relay-floor';
const GIB = 2 ** 30;

/** openssl speed's k-bytes per second at 16 KiB blocks, as CPU-seconds per GiB. */
function opensslSecondsPerGiB(evp: string): number {
  const out = execFileSync('openssl', ['speed', '-seconds', '2', '-bytes', '16384', '-evp', evp], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const last = out.trim().split('\n').at(-1) ?? '';
  const kps = Number(/([\d.]+)k\s*$/.exec(last)?.[1]);
  if (!Number.isFinite(kps) || kps <= 0) throw new Error(`cannot read openssl speed: ${last}`);
  return GIB / (kps * 1000);
}

const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** ssh2's AES-128-GCM on `bytes` of 32 KiB channel payloads: CPU-s/GiB to encrypt, to decrypt. */
function ssh2Gcm(bytes: number, forceNative: boolean): { enc: number; dec: number } {
  const info = ssh2PacketCrypto.CIPHER_INFO['aes128-gcm@openssh.com'];
  if (!info) throw new Error('ssh2 has no aes128-gcm@openssh.com');
  const key = randomBytes(info.keyLen);
  const iv = randomBytes(info.ivLen);
  const wire: Buffer[] = [];
  const cipher = ssh2PacketCrypto.createCipher({
    outbound: {
      onWrite: (b: Buffer) => wire.push(b),
      cipherInfo: info,
      cipherKey: key,
      cipherIV: Buffer.from(iv),
      seqno: 0,
      forceNative,
    },
  });
  let received = 0;
  const decipher = ssh2PacketCrypto.createDecipher({
    inbound: {
      onPayload: (p: Buffer) => {
        received += p.length;
      },
      decipherInfo: info,
      decipherKey: key,
      decipherIV: Buffer.from(iv),
      seqno: 0,
      forceNative,
    },
  });
  const payload = Buffer.alloc(32 * 1024 - 9);
  const packets = Math.ceil(bytes / payload.length);
  let enc = 0;
  let dec = 0;
  // In batches, so the ciphertext kept for decryption stays small.
  for (let done = 0; done < packets; ) {
    const n = Math.min(256, packets - done);
    const e0 = cpuNow();
    for (let i = 0; i < n; i++) {
      const pkt = cipher.allocPacket(9 + payload.length);
      pkt.set(payload, 5 + 9);
      cipher.encrypt(pkt);
    }
    enc += cpuNow() - e0;
    const stream = Buffer.concat(wire.splice(0));
    const d0 = cpuNow();
    decipher.decrypt(stream, 0, stream.length);
    dec += cpuNow() - d0;
    done += n;
  }
  if (received !== packets * (9 + payload.length))
    throw new Error(`ssh2 decrypted ${received} bytes of ${packets * (9 + payload.length)}`);
  const gib = (packets * payload.length) / GIB;
  return { enc: enc / gib, dec: dec / gib };
}

/**
 * A child that pipes its first accepted socket into a connection to PORT; prints its CPU from
 * accepting to the end (its start-up excluded).
 */
const COPIER = `const net = require('node:net');
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
const srv = net.createServer((a) => { srv.close(); const c0 = cpu(); const b = net.connect(+process.argv[1]);
  a.pipe(b); b.on('close', () => process.stdout.write(String(cpu() - c0))); });
srv.listen(0, '127.0.0.1', () => process.stdout.write(srv.address().port + '\\n'));`;

async function loopbackCopy(bytes: number, nodeFlags: string[]): Promise<number> {
  let received = 0;
  let sink: Socket | undefined;
  const sinkServer = createServer((s) => {
    sink = s;
    s.on('data', (d: Buffer) => {
      received += d.length;
    });
  });
  await new Promise<void>((r) => sinkServer.listen(0, '127.0.0.1', r));
  const sinkPort = (sinkServer.address() as { port: number }).port;
  const child = spawn(process.execPath, [...nodeFlags, '-e', COPIER, String(sinkPort)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    while (!out.includes('\n')) await new Promise((r) => setTimeout(r, 20));
    const copierPort = Number(out.split('\n')[0]);
    const src = connect(copierPort, '127.0.0.1');
    await new Promise<void>((r) => src.on('connect', () => r()));
    const chunk = Buffer.alloc(256 * 1024);
    for (let sent = 0; sent < bytes; sent += chunk.length) {
      if (!src.write(chunk)) await new Promise((r) => src.once('drain', r));
    }
    src.end();
    await new Promise<void>((r) => sink?.on('end', () => r()) ?? r());
    sink?.end();
    await new Promise((r) => child.on('exit', r));
    const cpu = Number(out.split('\n')[1]);
    if (received < bytes) throw new Error(`the sink received ${received} of ${bytes} bytes`);
    return cpu / (bytes / GIB);
  } finally {
    child.kill();
    sinkServer.close();
  }
}

/** The C floor's CPU-s per GiB (user + system), the median of three runs of `mib` MiB. */
function cFloor(exe: string, mib: number, mode: 'copy' | 'cipher', chunk: number): string {
  const runs = [0, 1, 2].map(() => {
    const out = execFileSync(exe, [String(mib), mode, String(chunk)], { encoding: 'utf8' });
    const [user = Number.NaN, sys = Number.NaN] = out.trim().split(' ').map(Number);
    if (!Number.isFinite(user) || !Number.isFinite(sys))
      throw new Error(`relay-floor.c said: ${out}`);
    return { user, sys, total: user + sys };
  });
  const m = runs.sort((a, b) => a.total - b.total)[1] as {
    user: number;
    sys: number;
    total: number;
  };
  return `${m.total.toFixed(3)} (user ${m.user.toFixed(2)}, system ${m.sys.toFixed(2)})`;
}

/** The rows of relay-floor.c's four runs, or one saying why it could not be built. */
function cFloors(mib: number): string[][] {
  const dir = mkdtempSync(join(tmpdir(), 'burrow-relay-floor-'));
  try {
    const exe = join(dir, 'relay-floor');
    try {
      compileExperiment(
        'relay-floor',
        exe,
        ['-lcrypto'],
        "a C compiler and OpenSSL's headers: gcc, libssl-dev",
      );
    } catch (err) {
      return [['C relay (relay-floor.c)', (err as Error).message]];
    }
    return [
      ['C: copy, a 32 KiB packet per read and write', cFloor(exe, mib, 'copy', 0)],
      ['C: copy, reads and writes of up to 1 MiB', cFloor(exe, mib, 'copy', 2 ** 20)],
      [
        'C relay: AES-128-GCM decrypt + encrypt (OpenSSL), a packet per read and write',
        cFloor(exe, mib, 'cipher', 0),
      ],
      [
        'C relay: AES-128-GCM decrypt + encrypt, reads and writes of up to 1 MiB',
        cFloor(exe, mib, 'cipher', 2 ** 20),
      ],
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    options: { size: { type: 'string', default: '1G' }, help: { type: 'boolean', default: false } },
  });
  if (values.help) {
    process.stdout.write(`usage: npm run bench -- experiments/${NAME} [--size 1G]\n`);
    return;
  }
  const bytes = parseSize(values.size);
  const rows: (string | number)[][] = [];
  for (const evp of ['aes-128-gcm', 'aes-256-gcm', 'chacha20-poly1305']) {
    rows.push([`openssl speed -evp ${evp} (16 KiB blocks)`, opensslSecondsPerGiB(evp).toFixed(3)]);
  }
  if (ssh2PacketCrypto.bindingAvailable) {
    const b = ssh2Gcm(bytes, false);
    rows.push(['ssh2 aes128-gcm, native binding: encrypt', b.enc.toFixed(3)]);
    rows.push(['ssh2 aes128-gcm, native binding: decrypt', b.dec.toFixed(3)]);
  } else {
    rows.push(['ssh2 aes128-gcm, native binding', 'not loaded']);
  }
  const n = ssh2Gcm(bytes, true);
  rows.push(['ssh2 aes128-gcm, node:crypto: encrypt', n.enc.toFixed(3)]);
  rows.push(['ssh2 aes128-gcm, node:crypto: decrypt', n.dec.toFixed(3)]);
  rows.push([
    'Node loopback TCP copy, socket.pipe(socket), V8 defaults',
    (await loopbackCopy(bytes, [])).toFixed(3),
  ]);
  // What burrow's executables run with (src/core/v8-flags.ts).
  rows.push([
    'Node loopback TCP copy, with --no-concurrent-array-buffer-sweeping',
    (await loopbackCopy(bytes, ['--no-concurrent-array-buffer-sweeping'])).toFixed(3),
  ]);
  rows.push(...cFloors(Math.max(1, Math.round(bytes / 2 ** 20))));
  process.stdout.write(
    `${terminalTable({ headers: ['floor', 'CPU-s per GiB'], rows })}\nload average: ${execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).trim()}\n`,
  );
}

runBenchMain(NAME, main);
