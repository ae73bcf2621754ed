/**
 * Several burrow relays as real processes (so they can be killed with SIGKILL, restarted on the
 * same port with the same host key, or drained with SIGTERM), a device sshd, a `burrow agent`
 * process and an operator ssh client that can reach the device through any relay with `-J`.
 */
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKey, type KeyPair } from './keys.js';
import { type Mutable, onFreePort } from './ports.js';
import type { Proc, ProcOptions } from './proc.js';
import { startCli } from './relay.js';
import type { Scope } from './scope.js';
import { createSshClient, type SshClient } from './ssh.js';
import { type Sshd, startSshd } from './sshd.js';
import { tmpDir } from './tmp.js';
import { waitFor } from './wait.js';

export interface FleetRelay {
  /** `relay1`, `relay2`…: the ssh alias the operator uses with -J. */
  readonly alias: string;
  readonly port: number;
  /** `127.0.0.1:port`, as the agent names it. */
  readonly id: string;
  readonly hostKey: KeyPair;
  /** The running process, if any. */
  proc: Proc | undefined;
  /** Starts the relay (again) on its port with its host key; resolves once it listens. */
  start(extra?: string[]): Promise<Proc>;
  kill(): Promise<void>;
}

export interface Fleet {
  readonly dir: string;
  readonly devKey: KeyPair;
  readonly opKey: KeyPair;
  readonly sshd: Sshd;
  readonly relays: FleetRelay[];
  /** Operator ssh client: hosts relay1…N and dev1 (use `-J relayK dev1`). */
  readonly op: SshClient;
  /** known_hosts holding every relay's host key, for the agent. */
  readonly knownHosts: string;
  /** Starts `burrow agent` for dev1 with the given extra flags (relays default to all). */
  startAgent(extra?: string[], opts?: ProcOptions & { relays?: FleetRelay[] }): Proc;
  /** `ssh -J <relay> dev1 true`: exit 0 when the device is reachable through it. */
  reach(relay: FleetRelay, timeoutMs?: number): Promise<boolean>;
  /** Polls `reach` until it succeeds; returns when it did. */
  waitReachable(relay: FleetRelay, timeoutMs?: number): Promise<number>;
  /** The agent's status file as JSON. */
  status(): Promise<{
    state: { phase: string; relay?: string; reconnects: number; consecutiveFailures: number };
  }>;
  readonly statusFile: string;
}

export async function startFleet(
  scope: Scope,
  opts: {
    relays: number;
    policy?: (devKey: string, opKey: string) => string[];
    /** Extra sshd_config lines for the device's sshd (see SshdOptions.extraConfig). */
    sshdConfig?: string[];
  },
): Promise<Fleet> {
  const dir = await tmpDir(scope, 'burrow-fleet-');
  const devKey = await generateKey(dir, 'device');
  const opKey = await generateKey(dir, 'operator');
  const sshd = await startSshd(scope, {
    authorizedKeys: [opKey],
    ...(opts.sshdConfig ? { extraConfig: opts.sshdConfig } : {}),
  });
  const policyLines = opts.policy
    ? opts.policy(devKey.publicKey, opKey.publicKey)
    : [`permitlisten="dev1:22" ${devKey.publicKey}`, `permitopen="dev1:22" ${opKey.publicKey}`];
  const policyPath = join(dir, 'authorized_keys');
  writeFileSync(policyPath, `${policyLines.join('\n')}\n`, { mode: 0o600 });
  const op = await createSshClient(scope, { identity: opKey, connectTimeoutSec: 5 });
  op.addHost({ alias: 'dev1', hostName: null, user: 'root' });
  op.trust('dev1', sshd.hostKeyPub);
  const knownHosts = join(dir, 'agent_known_hosts');
  // Their port is chosen at the first start (onFreePort), then kept for every restart.
  const relays: Mutable<FleetRelay>[] = [];
  for (let i = 1; i <= opts.relays; i++) {
    const alias = `relay${i}`;
    const hostKey = await generateKey(dir, `relay${i}_host`);
    const relay: Mutable<FleetRelay> = {
      alias,
      port: 0,
      id: '',
      hostKey,
      proc: undefined,
      async start(extra = []) {
        const proc = startCli(
          scope,
          [
            'relay',
            '--listen',
            `127.0.0.1:${relay.port}`,
            '--host-key',
            hostKey.path,
            '--authorized-keys',
            policyPath,
            '--relay-id',
            alias,
            '--audit-log',
            join(dir, `${alias}.audit`),
            ...extra,
          ],
          { name: alias },
        );
        relay.proc = proc;
        await proc.waitForLine(/relay listening on/, { stream: 'stderr' });
        return proc;
      },
      async kill() {
        const p = relay.proc;
        if (!p || p.exit) return;
        p.signal('SIGKILL');
        await p.stopped();
      },
    };
    relays.push(relay);
  }
  await startOnFreePorts(
    relays,
    (relay, port) => {
      relay.port = port;
      relay.id = `127.0.0.1:${port}`;
    },
    op,
    knownHosts,
  );
  const statusFile = join(dir, 'agent-dev1.json');

  const reach = async (relay: FleetRelay, timeoutMs = 10_000) => {
    const r = await op.run(['-J', relay.alias, 'dev1', 'true'], { timeoutMs });
    return r.code === 0;
  };
  return {
    dir,
    devKey,
    opKey,
    sshd,
    relays,
    op,
    knownHosts,
    statusFile,
    startAgent(extra = [], o = {}) {
      const list = (o.relays ?? relays).map((r) => r.id).join(',');
      return startCli(
        scope,
        [
          'agent',
          '--name',
          'dev1',
          '--relay',
          list,
          '--identity',
          devKey.path,
          '--forward',
          `22=127.0.0.1:${sshd.port}`,
          '--known-hosts',
          knownHosts,
          '--status-file',
          statusFile,
          ...extra,
        ],
        { name: 'agent', ...o, env: { BURROW_DATA_DIR: dir, ...o.env } },
      );
    },
    reach,
    async waitReachable(relay, timeoutMs = 15_000) {
      const started = Date.now();
      await waitFor(async () => ((await reach(relay, 5000)) ? true : undefined), {
        what: `dev1 reachable through ${relay.alias}`,
        timeoutMs,
        intervalMs: 50,
      });
      return Date.now() - started;
    },
    async status() {
      return JSON.parse(await readFile(statusFile, 'utf8'));
    },
  };
}

/**
 * Starts every relay of a fleet or cluster on a port of its own, chosen at its first start
 * (onFreePort: another one when a parallel test took it meanwhile) and kept for every restart;
 * `assign` records the port before each try. Then the operator reaches each by its alias, and
 * `knownHosts` (the agents' file) holds every relay's host key at its port.
 */
export async function startOnFreePorts<
  R extends { readonly alias: string; readonly hostKey: KeyPair; readonly port: number },
>(
  relays: readonly (R & { start(): Promise<unknown> })[],
  assign: (relay: R, port: number) => void,
  op: SshClient,
  knownHosts: string,
): Promise<void> {
  await Promise.all(
    relays.map((relay) =>
      onFreePort((port) => {
        assign(relay, port);
        return relay.start();
      }),
    ),
  );
  for (const r of relays) {
    op.addHost({ alias: r.alias, port: r.port, user: 'burrow', hostKey: r.hostKey.publicKey });
  }
  const lines = relays.map((r) => `[127.0.0.1]:${r.port} ${r.hostKey.publicKey}`);
  writeFileSync(knownHosts, `${lines.join('\n')}\n`, { mode: 0o600 });
}
