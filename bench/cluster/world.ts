/**
 * The cluster benchmark's world, all on 127.0.0.1 and owned by one Scope: a real redis-server,
 * N `burrow relay` processes sharing it (`--registry redis://… --peers FILE --advertise …`), the
 * device's sshd, and an operator OpenSSH client with one alias per relay (`relay1`…) and `dev1`
 * trusted. Relays can be killed with SIGKILL and started again on the same port and host key;
 * `burrow agent` processes register names through any subset of them.
 */
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createSshClient,
  freePort,
  generateKey,
  type KeyPair,
  type Proc,
  type Scope,
  type SshClient,
  type Sshd,
  startSshd,
  tmpDir,
} from '../../test/helpers/index.js';
import { type RedisServer, startRedis } from '../../test/helpers/redis.js';
import { startCli } from '../../test/helpers/relay.js';

export interface ClusterRelay {
  /** `relay1`, `relay2`…: the operator's ssh alias for it. */
  readonly alias: string;
  readonly port: number;
  /** `127.0.0.1:port`: how agents name it (and what their status file reports). */
  readonly addr: string;
  readonly hostKey: KeyPair;
  readonly auditPath: string;
  proc: Proc | undefined;
  /** Starts it (again) on its port with its host key; resolves once it listens. */
  start(): Promise<Proc>;
  /** kill -9, resolved once the process is gone. */
  kill9(): Promise<void>;
}

export interface ClusterOptions {
  relays: number;
  /** `--registry`: `redis` (the world's redis-server) or `memory`. */
  registry?: 'redis' | 'memory';
  ttl: string;
  heartbeat: string;
  /** authorized_keys lines beyond the operator's and dev1's. */
  policy?: string[];
  /** Extra relay flags. */
  relayArgs?: string[];
}

export interface Cluster {
  readonly dir: string;
  readonly redis: RedisServer;
  readonly relays: ClusterRelay[];
  readonly devKey: KeyPair;
  readonly opKey: KeyPair;
  readonly device: Sshd;
  /** Operator: hosts relay1…N, and dev1 (reach it with `-J relayK dev1`). */
  readonly op: SshClient;
  /** known_hosts with every relay's host key, for agents. */
  readonly knownHosts: string;
  /** `burrow agent --name NAME` on `relays` (a fresh status file in the world's dir). */
  startAgent(
    relays: readonly ClusterRelay[],
    opts?: { name?: string; identity?: string; statusFile?: string; extra?: string[] },
  ): Proc;
  /** The relay address an agent's status file says it is registered on, if connected. */
  agentRelay(statusFile: string): Promise<string | undefined>;
}

export async function startCluster(scope: Scope, opts: ClusterOptions): Promise<Cluster> {
  const dir = await tmpDir(scope, 'burrow-bench-cluster-');
  const redis = await startRedis(scope);
  const devKey = await generateKey(dir, 'device');
  const opKey = await generateKey(dir, 'operator');
  const device = await startSshd(scope, {
    name: 'device-sshd',
    authorizedKeys: [opKey],
    extraConfig: ['LogLevel INFO'],
  });
  const policyPath = join(dir, 'authorized_keys');
  writeFileSync(
    policyPath,
    `${[
      `permitlisten="dev1:22" ${devKey.publicKey}`,
      `permitopen="dev1:22" ${opKey.publicKey}`,
      ...(opts.policy ?? []),
    ].join('\n')}\n`,
    { mode: 0o600 },
  );
  const op = await createSshClient(scope, { identity: opKey, connectTimeoutSec: 5 });
  op.addHost({ alias: 'dev1', hostName: null, user: 'root' });
  op.trust('dev1', device.hostKeyPub);

  const hostKeys: KeyPair[] = [];
  for (let i = 1; i <= opts.relays; i++) hostKeys.push(await generateKey(dir, `relay${i}_host`));
  const peersFile = join(dir, 'peers');
  writeFileSync(peersFile, `${hostKeys.map((k) => k.publicLine).join('\n')}\n`);
  const registry =
    opts.registry === 'memory' ? [] : ['--registry', redis.url, '--peers', peersFile];

  const relays: ClusterRelay[] = [];
  const khLines: string[] = [];
  for (let i = 1; i <= opts.relays; i++) {
    const alias = `relay${i}`;
    const hostKey = hostKeys[i - 1]!;
    const port = await freePort();
    op.addHost({ alias, port, user: 'burrow', hostKey: hostKey.publicKey });
    khLines.push(`[127.0.0.1]:${port} ${hostKey.publicKey}`);
    const auditPath = join(dir, `${alias}.audit`);
    const relay: ClusterRelay = {
      alias,
      port,
      addr: `127.0.0.1:${port}`,
      hostKey,
      auditPath,
      proc: undefined,
      async start() {
        const proc = startCli(
          scope,
          [
            'relay',
            ...['--listen', `127.0.0.1:${port}`, '--advertise', `127.0.0.1:${port}`],
            ...['--host-key', hostKey.path, '--authorized-keys', policyPath],
            ...['--audit-log', auditPath, '--log-level', 'info', '--drain-grace', '1s'],
            ...registry,
            ...['--registry-ttl', opts.ttl, '--heartbeat-interval', opts.heartbeat],
            ...(opts.relayArgs ?? []),
          ],
          { name: alias, stopGraceMs: 20_000 },
        );
        relay.proc = proc;
        await proc.waitForLine(/relay listening on/, { stream: 'stderr', timeoutMs: 30_000 });
        return proc;
      },
      async kill9() {
        const p = relay.proc;
        if (!p || p.exit) return;
        await p.kill9();
      },
    };
    relays.push(relay);
  }
  const knownHosts = join(dir, 'agent_known_hosts');
  writeFileSync(knownHosts, `${khLines.join('\n')}\n`, { mode: 0o600 });
  await Promise.all(relays.map((r) => r.start()));

  let agents = 0;
  return {
    dir,
    redis,
    relays,
    devKey,
    opKey,
    device,
    op,
    knownHosts,
    startAgent(on, o = {}) {
      agents += 1;
      const name = o.name ?? 'dev1';
      return startCli(
        scope,
        [
          'agent',
          ...['--name', name, '--relay', on.map((r) => r.addr).join(',')],
          ...['--identity', o.identity ?? devKey.path],
          ...['--forward', `22=127.0.0.1:${device.port}`, '--known-hosts', knownHosts],
          ...['--status-file', o.statusFile ?? join(dir, `agent-${name}-${agents}.json`)],
          ...(o.extra ?? []),
        ],
        { name: `agent ${name}`, env: { BURROW_DATA_DIR: dir } },
      );
    },
    async agentRelay(statusFile) {
      try {
        const st = JSON.parse(await readFile(statusFile, 'utf8')) as {
          state: { phase: string; relay?: string };
        };
        return st.state.phase === 'connected' ? st.state.relay : undefined;
      } catch {
        return undefined;
      }
    },
  };
}
