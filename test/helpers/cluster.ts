/**
 * A cluster of `burrow relay` processes on one real redis-server, for fault tests: each relay on a
 * fixed loopback port with its own host key (so it can be killed and started again where agents
 * and operators expect it), every host key in one peers file, short registry TTL and heartbeat.
 * Devices are `burrow agent` processes (one name each, one device key, one device sshd); the
 * operator is real OpenSSH reaching `NAME` through any relay with `-J relayK`.
 *
 * A relay's local name table is read from its audit trail (stdout): `name.registered` puts a
 * connection on a name, `name.released` takes it off if it still held it.
 *
 * For tests that need only relays on a shared registry (no peers file, no fixed ports):
 * `startRegistryRelay` (one relay on a free port), `clientForRelays` (an ssh client knowing them
 * by alias) and `registerInRedis` (`ssh -R` until Redis says the relay holds the name).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditEvent } from '../../src/audit/audit.js';
import { REGISTRY_NAME_KEY } from '../../src/core/constants.js';
import { startOnFreePorts } from './fleet.js';
import { generateKey, type KeyPair } from './keys.js';
import type { Mutable } from './ports.js';
import type { Proc, ProcOptions } from './proc.js';
import { type RedisServer, startRedis } from './redis.js';
import { type AuditEventOf, auditedBy, auditTrail, startCli } from './relay.js';
import type { Scope } from './scope.js';
import { createSshClient, type SshClient } from './ssh.js';
import { type Sshd, startSshd } from './sshd.js';
import { tmpDir } from './tmp.js';
import { waitFor } from './wait.js';

/** TTL 3 s, heartbeat 1 s, keepalive 1 s: every fault settles within seconds. */
export const FAST_CLUSTER = [
  ...['--registry-ttl', '3s', '--heartbeat-interval', '1s'],
  ...['--keepalive-interval', '1s', '--keepalive-count', '2', '--drain-grace', '5s'],
];

export interface ClusterNode {
  /** `relay1`, `relay2`…: the operator's ssh alias. */
  readonly alias: string;
  readonly port: number;
  /** `127.0.0.1:port`, as agents name it. */
  readonly addr: string;
  readonly hostKey: KeyPair;
  /** What it advertises to the other relays (default `addr`); applies from the next start(). */
  advertise: string | undefined;
  /** The --registry URL it is started with (default the cluster's Redis); from the next start(). */
  registry: string | undefined;
  /** The current process (undefined before the first start). */
  proc: Proc | undefined;
  /** The registry id of the current process (`host:port#nonce`, new on every start). */
  id: string;
  /** Starts it (again) on its port; resolves once it has audited `relay.started`. */
  start(): Promise<void>;
  /** kill -9, and waits for the exit. */
  kill9(): Promise<void>;
  /** Whether the current process is running. */
  readonly alive: boolean;
  /** Audit events of `event` printed by the current process so far. */
  audit<E extends AuditEvent['event']>(event: E): AuditEventOf<E>[];
  /** The local name table of the current process (name → connection id), from its audit. */
  table(): Map<string, string>;
}

export interface Cluster {
  readonly redis: RedisServer;
  readonly dir: string;
  readonly devKey: KeyPair;
  readonly sshd: Sshd;
  readonly nodes: ClusterNode[];
  /** Operator client: hosts relay1…N and every device name (use `-J relayK NAME`). */
  readonly op: SshClient;
  /** Starts `burrow agent` for `name` on `relays` (default all) with fast keepalives. */
  startAgent(name: string, relays?: ClusterNode[], extra?: string[], opts?: ProcOptions): Proc;
  /** Who the registry says holds `name` ({} when no record). */
  record(name: string): { owner?: string; relayId?: string };
  /** The agent's status file for `name`. */
  statusFile(name: string): string;
}

export async function startCluster(
  s: Scope,
  opts: { relays: number; names?: string[]; relayFlags?: string[] },
): Promise<Cluster> {
  const names = opts.names ?? ['dev1'];
  const redis = await startRedis(s);
  const dir = await tmpDir(s, 'burrow-cluster-');
  const devKey = await generateKey(dir, 'device');
  const opKey = await generateKey(dir, 'operator');
  const sshd = await startSshd(s, { authorizedKeys: [opKey] });
  const policy = join(dir, 'authorized_keys');
  const listens = names.map((n) => `permitlisten="${n}:22"`).join(',');
  const opens = names.map((n) => `permitopen="${n}:22"`).join(',');
  writeFileSync(policy, `${listens} ${devKey.publicKey}\n${opens} ${opKey.publicKey}\n`, {
    mode: 0o600,
  });
  const op = await createSshClient(s, { identity: opKey, connectTimeoutSec: 3, logLevel: 'INFO' });
  for (const n of names) {
    op.addHost({ alias: n, hostName: null, user: 'root' });
    op.trust(n, sshd.hostKeyPub);
  }

  const nodes: Mutable<ClusterNode>[] = [];
  const peers: string[] = [];
  for (let i = 1; i <= opts.relays; i++) {
    const alias = `relay${i}`;
    const hostKey = await generateKey(dir, `${alias}_host`);
    peers.push(hostKey.publicLine);
    nodes.push(node(s, { alias, hostKey, dir, redis, flags: opts.relayFlags ?? FAST_CLUSTER }));
  }
  writeFileSync(join(dir, 'peers'), `${peers.join('\n')}\n`);
  await startOnFreePorts(
    nodes,
    (n, port) => {
      n.port = port;
      n.addr = `127.0.0.1:${port}`;
    },
    op,
    join(dir, 'known_hosts'),
  );

  const statusFile = (name: string) => join(dir, `agent-${name}.json`);
  return {
    redis,
    dir,
    devKey,
    sshd,
    nodes,
    op,
    statusFile,
    startAgent(name, relays = nodes, extra = [], o = {}) {
      return startCli(
        s,
        [
          'agent',
          ...['--name', name, '--relay', relays.map((r) => r.addr).join(',')],
          ...['--identity', devKey.path, '--forward', `22=127.0.0.1:${sshd.port}`],
          ...['--known-hosts', join(dir, 'known_hosts'), '--status-file', statusFile(name)],
          ...['--keepalive-interval', '1s', '--keepalive-count', '2', '--connect-timeout', '2s'],
          ...extra,
        ],
        { name: `agent ${name}`, ...o, env: { BURROW_DATA_DIR: dir, ...o.env } },
      );
    },
    record(name) {
      const [owner = '', relayId = ''] = redis
        .cli('HMGET', REGISTRY_NAME_KEY + name, 'owner', 'relayId')
        .split('\n');
      return owner ? { owner, relayId } : {};
    },
  };
}

function node(
  s: Scope,
  o: {
    alias: string;
    hostKey: KeyPair;
    dir: string;
    redis: RedisServer;
    flags: string[];
  },
): Mutable<ClusterNode> {
  const n: Mutable<ClusterNode> = {
    alias: o.alias,
    // Set before the first start (startCluster picks the port).
    port: 0,
    addr: '',
    hostKey: o.hostKey,
    advertise: undefined,
    registry: undefined,
    proc: undefined,
    id: '',
    get alive() {
      return n.proc !== undefined && n.proc.exit === undefined;
    },
    async start() {
      const proc = startCli(
        s,
        [
          'relay',
          ...[
            '--listen',
            n.addr,
            '--advertise',
            n.advertise ?? n.addr,
            '--host-key',
            o.hostKey.path,
          ],
          ...['--authorized-keys', join(o.dir, 'authorized_keys')],
          ...['--registry', n.registry ?? o.redis.url, '--peers', join(o.dir, 'peers')],
          ...['--log-format', 'json'],
          ...o.flags,
        ],
        { name: o.alias },
      );
      n.proc = proc;
      const started = await proc.waitForLine(/"event":"relay.started","relay":"([^"]+)"/, {
        stream: 'stdout',
      });
      n.id = started[1] ?? '';
    },
    async kill9() {
      if (n.alive) await n.proc?.kill9();
    },
    audit: (event) => auditedBy(n.proc, event),
    table() {
      const t = new Map<string, string>();
      for (const e of auditTrail(n.proc)) {
        if (e.event === 'name.registered') t.set(e.name, e.conn);
        else if (e.event === 'name.released' && t.get(e.name) === e.conn) t.delete(e.name);
      }
      return t;
    },
  };
  return n;
}

/** TTL 3 s, heartbeat 1 s: what a test's registry relays run with unless it says otherwise. */
const FAST_REGISTRY = ['--registry-ttl', '3s', '--heartbeat-interval', '1s'];

/** A `burrow relay --registry` process on a free loopback port, as `startRegistryRelay` left it. */
export interface RegistryRelay {
  /** The registry id it printed in `relay.started` (`relay-LABEL#pid`). */
  readonly id: string;
  readonly port: number;
  readonly hostKey: KeyPair;
  readonly proc: Proc;
  /** Every audit event of `event` printed so far. */
  audited<E extends AuditEvent['event']>(event: E): AuditEventOf<E>[];
}

/**
 * Starts `burrow relay --registry REDIS` on 127.0.0.1:0 with a new host key `host_LABEL` and the
 * policy `dir/authorized_keys`, id `relay-LABEL#pid`, then `flags`; resolves once it has audited
 * `relay.started`.
 */
export async function startRegistryRelay(
  s: Scope,
  dir: string,
  label: string,
  redis: RedisServer,
  flags: string[] = FAST_REGISTRY,
): Promise<RegistryRelay> {
  const hostKey = await generateKey(dir, `host_${label}`);
  const proc = startCli(
    s,
    [
      'relay',
      ...['--listen', '127.0.0.1:0', '--host-key', hostKey.path],
      ...['--authorized-keys', join(dir, 'authorized_keys')],
      ...['--registry', redis.url, '--relay-id', `relay-${label}#${process.pid}`],
      ...flags,
    ],
    { name: `relay ${label}` },
  );
  const started = await proc.waitForLine(
    /"event":"relay.started","relay":"([^"]+)","listen":"127\.0\.0\.1:(\d+)"/,
    { stream: 'stdout' },
  );
  return {
    id: started[1] ?? '',
    port: Number(started[2]),
    hostKey,
    proc,
    audited: (event) => auditedBy(proc, event),
  };
}

/**
 * `ssh -N -R NAME:22:127.0.0.1:9 ALIAS` from `ssh`; resolves once Redis says `relay` holds
 * `name`, and throws if ssh exits first.
 */
export async function registerInRedis(
  ssh: SshClient,
  relay: { readonly id: string },
  alias: string,
  name: string,
  redis: RedisServer,
): Promise<Proc> {
  const proc = ssh.spawn(
    ['-N', '-o', 'ExitOnForwardFailure=yes', '-R', `${name}:22:127.0.0.1:9`, alias],
    { name: `${name} on ${alias}` },
  );
  await waitFor(
    () => {
      if (proc.exit) throw new Error(`ssh -R ${name} exited: ${proc.tail()}`);
      return redis.cli('HGET', REGISTRY_NAME_KEY + name, 'relayId') === relay.id;
    },
    { what: `${name} to be registered on ${alias}` },
  );
  return proc;
}

/** An ssh client for `key` that knows each relay by its alias (`{ A, B }`: hosts `A` and `B`). */
export async function clientForRelays(
  s: Scope,
  key: KeyPair,
  relays: Record<string, { readonly port: number; readonly hostKey: KeyPair }>,
): Promise<SshClient> {
  const ssh = await createSshClient(s, { identity: key });
  for (const [alias, r] of Object.entries(relays)) {
    ssh.addHost({ alias, port: r.port, user: 'burrow', hostKey: r.hostKey.publicKey });
  }
  return ssh;
}
