/**
 * The soak: `npm run soak -- --minutes N [--devices 5000] [--operators 8] [--kill-every S] [--seed S]`.
 *
 * Bounded and loopback only: one redis-server and three `burrow relay` processes (a cluster with a
 * peers file, fast TTL and heartbeat) on free 127.0.0.1 ports; the load of soak-load.ts (churning
 * devices, operators echoing bytes through any relay); every `--kill-every` seconds a random relay
 * other than relay1 is killed with SIGKILL and started again 2 s later (default: every 20 s, or
 * 1 s per 50 devices when that is longer: 100 s for 5 000). A device lives 12 to 60 ms
 * per device of the fleet on one connection (1 000 devices: 12 to 60 s), so the churn is about
 * 28 reconnects a second at any size; at most 32 SSH handshakes are in flight at once. relay1 is never killed:
 * its memory and file descriptors are sampled every 2 s, as the relays' leak detector.
 *
 * Pass (exit 0) when, for relay1:
 *   - the fleet came up: 75% of the devices were registered at once at some point, early enough
 *     to leave at least 4 samples after it;
 *   - flat memory: from then (or from the first quarter of the run, if later) to the end, the
 *     highest RSS in the last half is at most 1.25 × the highest RSS in the first half;
 *   - no leaked descriptors: 10 s after the load stops, its open fds are at most 8 above what it
 *     had before the load started;
 * and for the load: no completed transfer returned different bytes (no byte lost or changed), at
 * least one transfer completed, and at least one relay was killed when the run was long enough
 * for one. The last line on stdout is the result as JSON; progress goes to stderr.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateEd25519 } from '../src/ssh/keys.js';
import { startLoad } from './soak-load.js';

const FLAGS = ['minutes', 'devices', 'operators', 'kill-every', 'seed'];
const USAGE = `usage: npm run soak -- [--minutes N] [--devices N] [--operators N] [--kill-every SECONDS] [--seed S]

Runs one redis-server and three burrow relays on loopback under churning devices and operators
echoing bytes through any relay, kills a relay other than relay1 every --kill-every seconds, and
samples relay1's memory and open files. Defaults: 5 minutes, 5000 devices, 8 operators, a kill
every 20 s or 1 s per 50 devices if longer. Exit 0 when memory stayed flat, no descriptor
leaked and no byte of a completed transfer differed; the last stdout line is the result as JSON.
`;
checkArgs(process.argv.slice(2));

/** --help prints the usage; an unknown flag or a flag without its value exits 2. */
function checkArgs(args: readonly string[]): void {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  for (let i = 0; i < args.length; i += 2) {
    const arg = args[i] ?? '';
    if (!arg.startsWith('--') || !FLAGS.includes(arg.slice(2)) || args[i + 1] === undefined) {
      process.stderr.write(
        `soak: unexpected argument ${JSON.stringify(arg.slice(0, 40))}\n${USAGE}`,
      );
      process.exit(2);
    }
  }
}

function flag(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) {
    process.stderr.write(`soak: --${name} expects a positive number\n`);
    process.exit(2);
  }
  return v;
}

const minutes = flag('minutes', 5);
const devices = Math.floor(flag('devices', 5000));
const operators = Math.floor(flag('operators', 8));
// A kill drops a third of the fleet, which must come back before the next: one per 50 devices.
const killEvery = flag('kill-every', Math.max(20, Math.round(devices / 50)));
let seed = Math.floor(flag('seed', Date.now() % 1_000_000));
const rand = () => {
  // mulberry32: a seeded run can be repeated
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const firstSeed = seed;
const say = (line: string) => process.stderr.write(`soak: ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CLI = new URL('../src/cli/main.js', import.meta.url).pathname;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const children = new Set<ChildProcess>();
const dir = mkdtempSync(join(tmpdir(), 'burrow-soak-'));
function cleanup(): void {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

function run(cmd: string, args: string[], name: string): ChildProcess {
  const c = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(c);
  let tail = '';
  c.stderr?.on('data', (d: Buffer) => {
    tail = (tail + d.toString()).slice(-4000);
  });
  c.once('exit', (code, signal) => {
    children.delete(c);
    if (signal !== 'SIGKILL' && !stopping) say(`${name} exited (${code ?? signal}): ${tail}`);
  });
  return c;
}

async function waitPort(port: number, what: string): Promise<void> {
  const { connect } = await import('node:net');
  for (const until = Date.now() + 20_000; Date.now() < until; await sleep(50)) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => resolve(true));
      s.once('error', () => resolve(false));
    }).catch(() => false);
    if (ok) return;
  }
  throw new Error(`${what} did not listen on 127.0.0.1:${port} within 20 s`);
}

function sample(pid: number | undefined): { rss: number; fds: number } {
  if (!pid) return { rss: 0, fds: 0 };
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
  return { rss, fds: readdirSync(`/proc/${pid}/fd`).length };
}

let stopping = false;
const redisPort = await freePort();
run(
  'redis-server',
  ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
  'redis',
);
await waitPort(redisPort, 'redis-server');

const devKey = generateEd25519('soak-device');
const opKey = generateEd25519('soak-operator');
writeFileSync(
  join(dir, 'authorized_keys'),
  `permitlisten="soak-*:22" ${devKey.publicLine}\npermitopen="soak-*:22" ${opKey.publicLine}\n`,
  { mode: 0o600 },
);
interface RelayNode {
  alias: string;
  port: number;
  proc: ChildProcess | undefined;
}
const relays: RelayNode[] = [];
const peers: string[] = [];
for (let i = 1; i <= 3; i++) {
  const key = generateEd25519(`soak-relay${i}`);
  writeFileSync(join(dir, `relay${i}_host`), key.privateKey, { mode: 0o600 });
  peers.push(key.publicLine);
  relays.push({ alias: `relay${i}`, port: await freePort(), proc: undefined });
}
writeFileSync(join(dir, 'peers'), `${peers.join('\n')}\n`);
const unlimited = String(devices * 2 + 1000);

async function startRelay(r: RelayNode): Promise<void> {
  const addr = `127.0.0.1:${r.port}`;
  r.proc = run(
    process.execPath,
    [
      CLI,
      'relay',
      ...['--listen', addr, '--advertise', addr, '--host-key', join(dir, `${r.alias}_host`)],
      ...['--authorized-keys', join(dir, 'authorized_keys'), '--peers', join(dir, 'peers')],
      ...['--registry', `redis://127.0.0.1:${redisPort}`, '--audit-log', '/dev/null'],
      ...['--registry-ttl', '5s', '--heartbeat-interval', '1s', '--log-level', 'error'],
      ...['--max-startups', `${unlimited}:30:${unlimited}`, '--max-startups-per-source', unlimited],
      ...['--max-connections-per-key', unlimited, '--max-connections-per-source', unlimited],
      ...['--per-source-penalties', 'no'],
    ],
    r.alias,
  );
  await waitPort(r.port, r.alias);
}
await Promise.all(relays.map(startRelay));
const steady = relays[0] as RelayNode;
const before = sample(steady.proc?.pid);
say(
  `seed ${firstSeed}; ${devices} devices, ${operators} operators, ${minutes} min; relay1 before: ` +
    `${(before.rss / 2 ** 20).toFixed(0)} MiB, ${before.fds} fds`,
);

const load = startLoad({
  relays: () =>
    relays
      .filter((r) => r.proc && r.proc.exitCode === null && !r.proc.signalCode)
      .map((r) => ({ host: '127.0.0.1', port: r.port })),
  devices,
  operators,
  deviceKey: devKey.privateKey,
  operatorKey: opKey.privateKey,
  // About 28 reconnects a second whatever the fleet size: 1 000 devices live 12 to 60 s.
  lifetimeMs: [devices * 12, devices * 60],
  transferBytes: 64 * 1024,
  handshakes: 32,
  rand,
});

const started = Date.now();
const endAt = started + minutes * 60_000;
const samples: { t: number; rss: number; fds: number }[] = [];
/** When 75% of the fleet was first registered at once: the judged part of the run starts then. */
let rampedAt: number | undefined;
let kills = 0;
let nextKill = started + killEvery * 1000;
while (Date.now() < endAt) {
  await sleep(2000);
  const s = sample(steady.proc?.pid);
  samples.push({ t: Date.now() - started, ...s });
  const st = load.stats;
  if (rampedAt === undefined && st.registered >= devices * 0.75) rampedAt = Date.now() - started;
  say(
    `${Math.round((Date.now() - started) / 1000)} s: relay1 ${(s.rss / 2 ** 20).toFixed(0)} MiB ` +
      `${s.fds} fds; ${st.registered} registered, ${st.transfersOk} transfers ok, ` +
      `${st.transfersInterrupted} interrupted, ${st.transfersMismatched} mismatched; ${kills} kills`,
  );
  if (Date.now() >= nextKill && endAt - Date.now() > 10_000) {
    nextKill = Date.now() + killEvery * 1000;
    const victim = relays[1 + Math.floor(rand() * (relays.length - 1))] as RelayNode;
    victim.proc?.kill('SIGKILL');
    kills++;
    say(`kill -9 ${victim.alias}`);
    await sleep(2000);
    await startRelay(victim);
  }
}
stopping = true;
await load.stop();
await sleep(10_000);
const after = sample(steady.proc?.pid);

const warm = Math.max(rampedAt ?? Number.POSITIVE_INFINITY, (minutes * 60_000) / 4);
const judged = samples.filter((s) => s.t >= warm);
const half = Math.floor(judged.length / 2);
const peak = (list: typeof samples) => Math.max(0, ...list.map((s) => s.rss));
const firstPeak = peak(judged.slice(0, half));
const lastPeak = peak(judged.slice(half));
const st = load.stats;
const checks = {
  fleetRegistered: rampedAt !== undefined && judged.length >= 4,
  flatMemory: lastPeak <= firstPeak * 1.25,
  noLeakedFds: after.fds <= before.fds + 8,
  noByteLost: st.transfersMismatched === 0,
  transfersRan: st.transfersOk > 0,
  relaysKilled: kills > 0 || minutes * 60 < killEvery + 10,
};
const pass = Object.values(checks).every(Boolean);
const result = {
  pass,
  checks,
  seed: firstSeed,
  minutes,
  devices,
  operators,
  kills,
  rampedAtS: rampedAt === undefined ? null : Math.round(rampedAt / 1000),
  relay1: {
    rssFirstHalfPeakMiB: +(firstPeak / 2 ** 20).toFixed(1),
    rssLastHalfPeakMiB: +(lastPeak / 2 ** 20).toFixed(1),
    fdsBefore: before.fds,
    fdsAfter: after.fds,
  },
  load: st,
};
say(
  pass
    ? 'PASS'
    : `FAIL: ${Object.entries(checks)
        .filter(([, ok]) => !ok)
        .map(([k]) => k)
        .join(', ')}`,
);
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(pass ? 0 : 1);
