/**
 * The setup every relay measurement shares, all on 127.0.0.1 and owned by one Scope:
 *
 * - the device: a real sshd (its own instance), reached by the operator as `root@dev`;
 * - a burrow relay (the CLI, as a separate process) where the device registered `dev:22` with
 *   `ssh -N -R dev:22:127.0.0.1:<device sshd>`;
 * - the OpenSSH baseline: a second real sshd configured as a reverse jumphost, where the same
 *   device holds two tunnels: the zero-code recipe's unix socket (`-R /…/dev.sock:…`) and a
 *   loopback port (`-R 127.0.0.1:<port>:…`);
 * - one ssh_config for the operator with a host alias per path (see FORMS).
 *
 * OpenSSH runs with its defaults (ciphers, MACs, kex); only what the harness needs (paths,
 * ports, keys) and what a reverse jumphost needs (forwarding allowed) is configured.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateEd25519 } from '../../src/ssh/keys.js';
import {
  type AuthorizedEntry,
  createSshClient,
  freePort,
  generateKey,
  type KeyPair,
  type Proc,
  type Scope,
  type SshClient,
  type Sshd,
  startProc,
  startSshd,
  tmpDir,
  waitFor,
  waitForPort,
} from '../../test/helpers/index.js';
import { CLI_PATH } from '../../test/helpers/relay.js';

/** The ways the operator reaches the device; `host` is the alias in the operator's ssh_config. */
export const FORMS = {
  burrow: { host: 'dev', label: 'burrow relay: ssh -J relay root@dev' },
  'openssh-sock': {
    host: 'dev-jump-sock',
    label: "OpenSSH jumphost, unix-socket recipe: ProxyCommand='ssh jump nc -U dev.sock'",
  },
  'openssh-port': {
    host: 'dev-jump-port',
    label: 'OpenSSH jumphost, -R port: ssh -J jump -p PORT root@127.0.0.1',
  },
  direct: { host: 'dev-direct', label: 'direct: ssh root@dev (no hop)' },
  'direct-nc': {
    host: 'dev-direct-nc',
    label: "direct through a pipe: ssh -o ProxyCommand='nc 127.0.0.1 PORT' root@dev (no hop)",
  },
} as const;

export type Form = keyof typeof FORMS;
export const HOP_FORMS: readonly Form[] = ['burrow', 'openssh-sock', 'openssh-port'];

export interface BurrowRelay {
  proc: Proc;
  /** The node process itself (CPU and memory are read from /proc/<pid>). */
  pid: number;
  port: number;
  /** `ssh-ed25519 AAAA…` */
  hostKeyPub: string;
  auditPath: string;
  dir: string;
}

export interface RelayProcessOptions {
  dir: string;
  policy: string[];
  /** Flags after the required ones (e.g. `--max-startups 4096`). */
  args?: string[];
  /** Start under `ulimit -n <fdLimit>` (must not exceed the hard limit). */
  fdLimit?: number;
  /** Run with `node --cpu-prof`, writing the profile into this directory at exit. */
  profileDir?: string;
  /** Audit log path; default a file in `dir`. */
  auditPath?: string;
  /** The CLI script to run; default this tree's build (another build's, to compare two). */
  cliPath?: string;
  /** Node flags before the script (e.g. `--max-semi-space-size=32`). */
  nodeFlags?: string[];
  /**
   * A single executable (`dist/bin/burrow`) run itself instead of node and the CLI script;
   * `cliPath`, `nodeFlags` and `profileDir` do not apply to it.
   */
  executable?: string;
}

/** Starts `burrow relay` as its own process on 127.0.0.1 (a free port) with a fresh host key. */
export async function startRelayProcess(
  scope: Scope,
  opts: RelayProcessOptions,
): Promise<BurrowRelay> {
  const hostKeyPath = join(opts.dir, 'relay_host_ed25519_key');
  const policyPath = join(opts.dir, 'relay_authorized_keys');
  const auditPath = opts.auditPath ?? join(opts.dir, 'relay-audit.jsonl');
  const key = generateEd25519('bench-relay');
  await writeFile(hostKeyPath, key.privateKey, { mode: 0o600 });
  await writeFile(policyPath, `${opts.policy.join('\n')}\n`, { mode: 0o600 });
  const relayArgs = [
    'relay',
    '--listen',
    '127.0.0.1:0',
    '--host-key',
    hostKeyPath,
    '--authorized-keys',
    policyPath,
    '--audit-log',
    auditPath,
    // info logs only start and stop (the listening line gives the port); warn and up otherwise.
    '--log-level',
    'info',
    '--drain-grace',
    '1s',
    ...(opts.args ?? []),
  ];
  const [command, args] = opts.executable
    ? [opts.executable, relayArgs]
    : [
        process.execPath,
        [
          ...(opts.nodeFlags ?? []),
          ...(opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] : []),
          opts.cliPath ?? CLI_PATH,
          ...relayArgs,
        ],
      ];
  const proc =
    opts.fdLimit === undefined
      ? startProc(scope, command, args, { name: 'burrow-relay', stopGraceMs: 20_000 })
      : startProc(
          scope,
          'bash',
          ['-c', `ulimit -n ${opts.fdLimit} && exec "$0" "$@"`, command, ...args],
          { name: 'burrow-relay', stopGraceMs: 20_000 },
        );
  const m = await proc.waitForLine(/relay listening on 127\.0\.0\.1:(\d+)/, { timeoutMs: 30_000 });
  const [alg, b64] = key.publicLine.split(' ');
  return {
    proc,
    pid: proc.pid,
    port: Number(m[1]),
    hostKeyPub: `${alg} ${b64}`,
    auditPath,
    dir: opts.dir,
  };
}

/** Counts audit events of one kind in the relay's audit file. */
export async function countAudit(auditPath: string, event: string): Promise<number> {
  let text: string;
  try {
    text = await readFile(auditPath, 'utf8');
  } catch {
    return 0;
  }
  return text.split(`"event":"${event}"`).length - 1;
}

export interface World {
  dir: string;
  relay: BurrowRelay;
  /** The OpenSSH reverse jumphost (the baseline's hop). */
  jump: Sshd;
  /** The device's own sshd. */
  device: Sshd;
  deviceKey: KeyPair;
  operatorKey: KeyPair;
  /** The operator's ssh_config, with one alias per form (FORMS[form].host). */
  op: SshClient;
  /** The device side's ssh_config (`relay`, `jump`). */
  deviceSsh: SshClient;
  sockPath: string;
  /** The loopback port on the jumphost that the `-R port` tunnel listens on. */
  jumpPort: number;
  /** The device's `ssh -N -R` processes (relay, jumphost socket, jumphost port). */
  tunnels: Proc[];
  /** `ssh -F <operator config> <host> <command…>` as one shell-ready string. */
  sshCommand(form: Form, remote: string): string;
}

const JUMPHOST_CONFIG = [
  // What a reverse jumphost needs; all other settings are OpenSSH's defaults (the helper adds
  // only paths, ports, and non-interactive auth). INFO is sshd's default log level.
  'AllowTcpForwarding yes',
  'AllowStreamLocalForwarding yes',
  'StreamLocalBindUnlink yes',
  'GatewayPorts no',
  'LogLevel INFO',
];

export async function startWorld(
  scope: Scope,
  opts: { profileDir?: string; relayArgs?: string[] } = {},
): Promise<World> {
  const dir = await tmpDir(scope, 'burrow-bench-');
  const deviceKey = await generateKey(dir, 'device_key');
  const operatorKey = await generateKey(dir, 'operator_key');
  const device = await startSshd(scope, {
    name: 'device-sshd',
    authorizedKeys: [operatorKey],
    extraConfig: ['LogLevel INFO'],
  });
  const jumpKeys: AuthorizedEntry[] = [deviceKey, operatorKey];
  const jump = await startSshd(scope, {
    name: 'jump-sshd',
    authorizedKeys: jumpKeys,
    extraConfig: JUMPHOST_CONFIG,
  });
  const relay = await startRelayProcess(scope, {
    dir,
    policy: [
      `permitlisten="dev:22" ${deviceKey.publicKey} device`,
      `permitopen="dev:22" ${operatorKey.publicKey} operator`,
    ],
    args: opts.relayArgs ?? [],
    ...(opts.profileDir ? { profileDir: opts.profileDir } : {}),
  });

  const sockPath = join(dir, 'dev.sock');
  const jumpPort = await freePort();

  const deviceSsh = await createSshClient(scope, { identity: deviceKey });
  deviceSsh.addHost({
    alias: 'relay',
    port: relay.port,
    user: 'device',
    hostKey: relay.hostKeyPub,
  });
  deviceSsh.addHost({ alias: 'jump', port: jump.port, user: 'root', hostKey: jump.hostKeyPub });

  const op = await createSshClient(scope, { identity: operatorKey });
  op.addHost({ alias: 'relay', port: relay.port, user: 'operator', hostKey: relay.hostKeyPub });
  op.addHost({ alias: 'jump', port: jump.port, user: 'root', hostKey: jump.hostKeyPub });
  op.addHost({ alias: FORMS.burrow.host, hostName: null, user: 'root', proxyJump: 'relay' });
  op.addHost({
    alias: FORMS['openssh-sock'].host,
    hostName: null,
    user: 'root',
    hostKeyAlias: 'dev',
    options: { ProxyCommand: `${op.command()} jump nc -U ${sockPath}` },
  });
  op.addHost({
    alias: FORMS['openssh-port'].host,
    port: jumpPort,
    user: 'root',
    hostKeyAlias: 'dev',
    proxyJump: 'jump',
  });
  op.addHost({ alias: FORMS.direct.host, port: device.port, user: 'root', hostKeyAlias: 'dev' });
  // The same, but over a ProxyCommand pipe like -J and the recipe use: OpenSSH's client sends
  // NEWKEYS and the next request as two small writes, and on its own TCP socket (Nagle on until
  // the session starts) the second waits for the server's delayed ACK; through a pipe it does not.
  op.addHost({
    alias: FORMS['direct-nc'].host,
    hostName: null,
    user: 'root',
    hostKeyAlias: 'dev',
    options: { ProxyCommand: `nc 127.0.0.1 ${device.port}` },
  });
  op.trust('dev', device.hostKeyPub);

  // The device's three tunnels, each a plain `ssh -N -R`.
  const to = `127.0.0.1:${device.port}`;
  const tunnels = [
    deviceSsh.spawn(['-N', '-R', `dev:22:${to}`, 'relay'], { name: 'device -R relay' }),
    deviceSsh.spawn(['-N', '-R', `${sockPath}:${to}`, 'jump'], { name: 'device -R sock' }),
    deviceSsh.spawn(['-N', '-R', `127.0.0.1:${jumpPort}:${to}`, 'jump'], {
      name: 'device -R port',
    }),
  ];
  const alive = () => {
    for (const t of tunnels) if (t.exit) throw new Error(`${t.name} exited:\n${t.tail()}`);
  };
  await waitFor(
    async () => {
      alive();
      return (await countAudit(relay.auditPath, 'name.registered')) >= 1;
    },
    { what: 'the device to register dev:22 on the relay', timeoutMs: 15_000 },
  );
  await waitFor(
    () => {
      alive();
      return existsSync(sockPath);
    },
    { what: `the jumphost to create ${sockPath}`, timeoutMs: 15_000 },
  );
  await waitForPort(jumpPort, {
    banner: /^SSH-2\.0-OpenSSH/,
    timeoutMs: 15_000,
    what: `the -R tunnel on 127.0.0.1:${jumpPort} to reach the device sshd`,
  });

  return {
    dir,
    relay,
    jump,
    device,
    deviceKey,
    operatorKey,
    op,
    deviceSsh,
    sockPath,
    jumpPort,
    tunnels,
    sshCommand: (form, remote) =>
      `ssh -F ${op.configPath} ${FORMS[form].host} ${shellQuote(remote)}`,
  };
}

/** Single-quotes `s` for sh. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}
