/**
 * A burrow relay for integration tests, in-process (so tests can read its stats and audit trail
 * directly) or as a CLI process (for signals, kill -9 and flag handling). Devices and clients are
 * always real OpenSSH processes.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { AuditEvent, AuditSink } from '../../src/audit/audit.js';
import { MemoryRegistry } from '../../src/registry/memory.js';
import { type Relay, type RelayConfig, startRelay } from '../../src/relay/index.js';
import { PolicyFile } from '../../src/relay/policy-file.js';
import { generateEd25519, parseHostKey } from '../../src/ssh/keys.js';
import { generateKey, type KeyPair } from './keys.js';
import { type Proc, type ProcOptions, startProc } from './proc.js';
import type { Scope } from './scope.js';
import { createSshClient, type SshClient } from './ssh.js';
import { type Sshd, startSshd } from './sshd.js';
import { tmpDir } from './tmp.js';
import { waitFor } from './wait.js';

export type AuditEventOf<E extends AuditEvent['event']> = Extract<AuditEvent, { event: E }>;

/** The audit events of `event` a `burrow relay` process has printed so far (its stdout). */
export function auditedBy<E extends AuditEvent['event']>(
  proc: Proc | undefined,
  event: E,
): AuditEventOf<E>[] {
  return auditTrail(proc).filter((e): e is AuditEventOf<E> => e.event === event);
}

/** Every audit event a `burrow relay` process has printed so far, in order. */
export function auditTrail(proc: Proc | undefined): AuditEvent[] {
  return (proc?.output('stdout') ?? '')
    .split('\n')
    .filter((l) => l.startsWith('{"'))
    .map((l) => JSON.parse(l) as AuditEvent);
}

/** Collects audit events in memory and lets a test wait for one. */
export class AuditRecorder implements AuditSink {
  readonly events: AuditEvent[] = [];

  record(event: AuditEvent): void {
    this.events.push(event);
  }

  all<E extends AuditEvent['event']>(event: E): AuditEventOf<E>[] {
    return this.events.filter((e): e is AuditEventOf<E> => e.event === event);
  }

  /** Resolves with the first matching event (already recorded or still to come). */
  wait<E extends AuditEvent['event']>(
    event: E,
    match: (e: AuditEventOf<E>) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<AuditEventOf<E>> {
    return waitFor(() => this.all(event).find(match), {
      what: `audit event ${event}`,
      timeoutMs,
    });
  }

  dump(): string {
    return this.events.map((e) => JSON.stringify(e)).join('\n');
  }
}

/** Test defaults: fast keepalive and short grace so liveness tests finish quickly. */
export const TEST_RELAY_DEFAULTS: Omit<RelayConfig, 'hostKey'> = {
  relayId: 'test-relay',
  host: '127.0.0.1',
  port: 0,
  keepaliveIntervalMs: 5000,
  keepaliveCountMax: 3,
  loginGraceMs: 20_000,
  maxAuthTries: 6,
  maxStartups: { start: 512, rate: 30, full: 512 },
  maxStartupsPerSource: 256,
  maxConnectionsPerKey: 64,
  maxConnectionsPerSource: 256,
  maxChannels: 1024,
  drainGraceMs: 2000,
  registryTtlMs: 30_000,
};

export interface TestRelay {
  readonly relay: Relay;
  readonly port: number;
  /** `ssh-ed25519 AAAA…` */
  readonly hostKeyPub: string;
  readonly audit: AuditRecorder;
  readonly policyPath: string;
  /** Everything the relay logged (JSON lines). */
  log(): string;
  /** Rewrites the policy file and reloads it now (as SIGHUP would). */
  setPolicy(lines: string[]): Promise<void>;
  readonly policy: PolicyFile;
}

export async function startTestRelay(
  scope: Scope,
  opts: {
    policy: string[];
    config?: Partial<RelayConfig>;
    /** Reload when the file changes (default); false: only setPolicy()/reload() apply it. */
    watch?: boolean;
    /** The relay's wall clock (default Date.now). */
    now?: () => number;
  },
): Promise<TestRelay> {
  const dir = await tmpDir(scope, 'burrow-relay-');
  const policyPath = join(dir, 'authorized_keys');
  await writeFile(policyPath, `${opts.policy.join('\n')}\n`, { mode: 0o600 });
  const hostKey = parseHostKey(generateEd25519('test-relay').privateKey, 'test');
  const logLines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(String(chunk));
      cb();
    },
  });
  const log = pino({ level: 'debug' }, sink);
  const audit = new AuditRecorder();
  const policy = new PolicyFile(policyPath, log, audit);
  if (opts.watch !== false) policy.watch();
  const relay = await startRelay(
    { ...TEST_RELAY_DEFAULTS, ...opts.config, hostKey },
    {
      policy: policy.current,
      policyChanges: policy.onChange,
      registry: new MemoryRegistry(),
      audit,
      log,
      ...(opts.now ? { now: opts.now } : {}),
    },
  );
  scope.defer(() => relay.close(), 'relay');
  scope.defer(() => policy.close(), 'policy watcher');
  scope.diagnose('relay audit', () => audit.dump());
  scope.diagnose('relay log', () => logLines.join(''));
  return {
    relay,
    port: relay.address().port,
    hostKeyPub: hostKey.publicLine,
    audit,
    policyPath,
    log: () => logLines.join(''),
    policy,
    async setPolicy(lines) {
      await writeFile(policyPath, `${lines.join('\n')}\n`, { mode: 0o600 });
      policy.reload();
    },
  };
}

/**
 * `burrow relay` arguments for a relay on a free loopback port whose host key and policy file live
 * in `dir` (as `host_key` and `authorized_keys`).
 */
export function relayCliArgs(dir: string): string[] {
  return [
    'relay',
    '--listen',
    '127.0.0.1:0',
    '--host-key',
    join(dir, 'host_key'),
    '--authorized-keys',
    join(dir, 'authorized_keys'),
  ];
}

/** Path of the compiled CLI, for tests that run `burrow` as a process. */
export const CLI_PATH = new URL('../../src/cli/main.js', import.meta.url).pathname;

/** Runs `node dist/src/cli/main.js …args` as a supervised process. */
export function startCli(scope: Scope, args: string[], opts: ProcOptions = {}): Proc {
  return startProc(scope, process.execPath, [CLI_PATH, ...args], { name: 'burrow', ...opts });
}

/**
 * An ssh client set up for a relay: host `relay` (127.0.0.1:port, pinned host key) and any
 * number of device names reached through it with ProxyJump, each trusted with `deviceHostKey`.
 */
export async function relayClient(
  scope: Scope,
  relay: { port: number; hostKeyPub: string },
  identity: KeyPair,
  devices: { name: string; hostKeyPub: string }[] = [],
): Promise<SshClient> {
  const client = await createSshClient(scope, { identity });
  client.addHost({ alias: 'relay', port: relay.port, user: 'burrow', hostKey: relay.hostKeyPub });
  for (const d of devices) {
    client.addHost({ alias: d.name, hostName: null, user: 'root', proxyJump: 'relay' });
    client.trust(d.name, d.hostKeyPub);
  }
  return client;
}

/**
 * Registers `name` from a real `ssh -N -R` process (the device side), forwarding to the given
 * sshd, and waits until the relay has audited the registration.
 */
export async function registerDevice(
  device: SshClient,
  relay: TestRelay,
  forwards: string[],
  expectName: string,
  fp: string,
): Promise<Proc> {
  const args = ['-N', '-o', 'ExitOnForwardFailure=yes'];
  for (const f of forwards) args.push('-R', f);
  const before = relay.audit.all('name.registered').length;
  const proc = device.spawn([...args, 'relay'], { name: `device ${expectName}` });
  await waitFor(
    () => {
      if (proc.exit) throw new Error(`device ssh exited: ${proc.tail()}`);
      return relay.audit
        .all('name.registered')
        .slice(before)
        .some((e) => e.name === expectName && e.fp === fp);
    },
    { what: `relay to register ${expectName}`, timeoutMs: 10_000 },
  );
  return proc;
}

/** The `-R` argument forwarding `name:port` to a local sshd. */
export function forwardTo(name: string, port: number, sshd: Sshd): string {
  return `${name}:${port}:127.0.0.1:${sshd.port}`;
}

/** The usual cast: a device key, an operator key, the device's sshd, a relay and both clients. */
export interface World {
  readonly dir: string;
  readonly devKey: KeyPair;
  readonly opKey: KeyPair;
  /** The device's own sshd; the operator key may log in to it. */
  readonly sshd: Sshd;
  readonly relay: TestRelay;
  /** ssh client with the device key and a `relay` host. */
  readonly device: SshClient;
  /** ssh client with the operator key, a `relay` host and `dev1` trusted behind it. */
  readonly op: SshClient;
  /** Registers forwards from the device with `ssh -N -R` and waits for `name`. */
  register(forwards: string[], name?: string): Promise<Proc>;
}

export async function startWorld(
  scope: Scope,
  opts: { policy: (devKey: string, opKey: string) => string[]; config?: Partial<RelayConfig> },
): Promise<World> {
  const dir = await tmpDir(scope);
  const devKey = await generateKey(dir, 'device');
  const opKey = await generateKey(dir, 'operator');
  const sshd = await startSshd(scope, { authorizedKeys: [opKey] });
  const relay = await startTestRelay(scope, {
    policy: opts.policy(devKey.publicKey, opKey.publicKey),
    ...(opts.config ? { config: opts.config } : {}),
  });
  const device = await relayClient(scope, relay, devKey);
  const op = await relayClient(scope, relay, opKey, [
    { name: 'dev1', hostKeyPub: sshd.hostKeyPub },
  ]);
  return {
    dir,
    devKey,
    opKey,
    sshd,
    relay,
    device,
    op,
    register: (forwards, name = 'dev1') =>
      registerDevice(device, relay, forwards, name, devKey.fingerprint),
  };
}
