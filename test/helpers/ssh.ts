/**
 * The real OpenSSH client, configured only through a per-test ssh_config file.
 *
 * Why a file and not `-o` options: `ssh -J relay dev1` (ProxyJump) runs a nested
 * `ssh -W '[dev1]:22' relay` that does not inherit `-o` options, but it is given the same `-F`
 * file. So every option that must hold for the jump host too (identity, known_hosts, BatchMode,
 * StrictHostKeyChecking) lives in the file, and every command is `ssh -F <file> …`. Nothing from
 * ~/.ssh, /etc/ssh/ssh_config or an ssh-agent is used.
 *
 * Host keys: the file's `Host *` block points UserKnownHostsFile at a known_hosts file in the
 * temp dir, with StrictHostKeyChecking yes by default. ssh looks a host up by its HostKeyAlias
 * if set, else by `[HostName]:Port` (bare HostName on port 22). A device reached through the
 * relay as `-J relay root@dev1` is looked up as `dev1`: trust it with `trust('dev1', key)`.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { KeyPair } from './keys.js';
import { type Proc, type ProcOptions, startProc } from './proc.js';
import { type RunOptions, type RunResult, runCommand } from './run.js';
import type { Scope } from './scope.js';
import { tmpDir } from './tmp.js';

export type ConfigValue = string | number | boolean;

export interface SshHostBlock {
  /** The name used on the command line (`ssh relay`, `-J relay`). */
  alias: string;
  /** Default '127.0.0.1'; null for names only reachable through a jump host (`dev1`). */
  hostName?: string | null;
  port?: number;
  user?: string;
  /** IdentityFile(s) for this host, offered before a default identity. */
  identity?: KeyPair | string | (KeyPair | string)[];
  hostKeyAlias?: string;
  proxyJump?: string;
  /** When given, a known_hosts line for this host is added under the name ssh will look up. */
  hostKey?: string;
  /** Any other ssh_config keywords for this host; they win over the `Host *` defaults. */
  options?: Record<string, ConfigValue>;
}

export interface SshClientOptions {
  /** Where ssh_config and known_hosts are written; default: a new tmpDir. */
  dir?: string;
  /** IdentityFile for every host (in `Host *`). IdentityFile is cumulative in ssh_config. */
  identity?: KeyPair | string;
  /** Default 'yes'. With 'no', unknown keys are added to the test's known_hosts file. */
  strictHostKeyChecking?: 'yes' | 'no' | 'accept-new';
  /** Default 10. */
  connectTimeoutSec?: number;
  /** Default 'ERROR', so stderr holds only real errors. */
  logLevel?: string;
  /** Extra `Host *` keywords, winning over the defaults. */
  options?: Record<string, ConfigValue>;
}

/** Keywords whose values are paths, where ssh expands `%` tokens. */
const PATH_KEYWORDS = new Set([
  'identityfile',
  'userknownhostsfile',
  'certificatefile',
  'identityagent',
]);

function formatValue(key: string, value: ConfigValue): string {
  let text = typeof value === 'boolean' ? (value ? 'yes' : 'no') : String(value);
  if (PATH_KEYWORDS.has(key.toLowerCase())) text = text.replaceAll('%', '%%');
  return /\s/.test(text) && PATH_KEYWORDS.has(key.toLowerCase()) ? `"${text}"` : text;
}

function identityPath(identity: KeyPair | string): string {
  return typeof identity === 'string' ? identity : identity.path;
}

/** The name ssh looks a host key up by in known_hosts: `host`, or `[host]:port` off port 22. */
export function knownHostsName(host: string, port = 22): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

export class SshClient {
  readonly configPath: string;
  readonly knownHostsPath: string;
  private readonly hosts: SshHostBlock[] = [];

  /** Use createSshClient(). */
  constructor(
    private readonly scope: Scope,
    readonly dir: string,
    private readonly opts: SshClientOptions,
  ) {
    this.configPath = join(dir, 'ssh_config');
    this.knownHostsPath = join(dir, 'known_hosts');
    writeFileSync(this.knownHostsPath, '', { mode: 0o600, flag: 'a' });
    this.write();
  }

  /** Adds (or replaces, by alias) a Host block, and its known_hosts line if `hostKey` is given. */
  addHost(block: SshHostBlock): this {
    const at = this.hosts.findIndex((h) => h.alias === block.alias);
    if (at >= 0) this.hosts.splice(at, 1, block);
    else this.hosts.push(block);
    if (block.hostKey) {
      const name =
        block.hostKeyAlias ??
        (block.hostName === null
          ? knownHostsName(block.alias, block.port)
          : knownHostsName(block.hostName ?? '127.0.0.1', block.port));
      this.appendKnownHosts(`${name} ${block.hostKey}`);
    }
    this.write();
    return this;
  }

  /** Trusts `hostKey` (`ssh-ed25519 AAAA…`) for `name` as ssh will look it up (see knownHostsName). */
  trust(name: string, hostKey: string): this {
    return this.addKnownHostsLine(`${name} ${hostKey}`);
  }

  /** Appends a complete known_hosts line (e.g. from Sshd.knownHostsLine()). */
  addKnownHostsLine(line: string): this {
    this.appendKnownHosts(line);
    return this;
  }

  /** `['-F', configPath, ...args]`: the argv (after `ssh`) for a command using this config. */
  args(...args: string[]): string[] {
    return ['-F', this.configPath, ...args];
  }

  /** `ssh -F <configPath>`, for `rsync -e`, `burrow shim` or a ProxyCommand. */
  command(): string {
    return `ssh -F ${this.configPath}`;
  }

  /** Runs `ssh -F cfg ...args` to completion (default bound 30 s; killed on expiry). */
  run(args: string[], opts: RunOptions = {}): Promise<RunResult> {
    return runCommand(this.scope, 'ssh', this.args(...args), opts);
  }

  /**
   * Starts a long-lived `ssh -F cfg ...args` (e.g. `-N -R dev1:22:localhost:22 relay`), stopped
   * when the scope closes. Use proc.waitForLineOrExit() to wait for its stderr or its exit.
   */
  spawn(args: string[], opts: ProcOptions = {}): Proc {
    return startProc(this.scope, 'ssh', this.args(...args), { name: 'ssh', ...opts });
  }

  /** The generated ssh_config text. */
  config(): string {
    const blocks = this.hosts.map((h) => {
      const entries: [string, ConfigValue][] = [];
      for (const [key, value] of Object.entries(h.options ?? {})) entries.push([key, value]);
      if (h.hostName !== null) entries.push(['HostName', h.hostName ?? '127.0.0.1']);
      if (h.port !== undefined) entries.push(['Port', h.port]);
      if (h.user !== undefined) entries.push(['User', h.user]);
      if (h.hostKeyAlias !== undefined) entries.push(['HostKeyAlias', h.hostKeyAlias]);
      if (h.proxyJump !== undefined) entries.push(['ProxyJump', h.proxyJump]);
      const identities = h.identity === undefined ? [] : [h.identity].flat();
      for (const identity of identities) entries.push(['IdentityFile', identityPath(identity)]);
      return { pattern: h.alias, entries };
    });
    const o = this.opts;
    const all: [string, ConfigValue][] = [
      ...Object.entries(o.options ?? {}),
      ['BatchMode', true],
      ['StrictHostKeyChecking', o.strictHostKeyChecking ?? 'yes'],
      ['UserKnownHostsFile', this.knownHostsPath],
      ['GlobalKnownHostsFile', '/dev/null'],
      ['UpdateHostKeys', false],
      ['HashKnownHosts', false],
      ['CheckHostIP', false],
      ['IdentitiesOnly', true],
      ['IdentityAgent', 'none'],
      ['PreferredAuthentications', 'publickey'],
      ['PasswordAuthentication', false],
      ['KbdInteractiveAuthentication', false],
      ['ForwardAgent', false],
      ['ForwardX11', false],
      ['ControlMaster', false],
      ['ControlPath', 'none'],
      ['ConnectionAttempts', 1],
      ['ConnectTimeout', o.connectTimeoutSec ?? 10],
      // `ssh -N -R` whose forward is refused exits instead of idling; override with -o.
      ['ExitOnForwardFailure', true],
      ['LogLevel', o.logLevel ?? 'ERROR'],
    ];
    if (o.identity !== undefined) all.push(['IdentityFile', identityPath(o.identity)]);
    blocks.push({ pattern: '*', entries: all });
    // ssh uses the first value it finds for a keyword, so specific blocks come before `Host *`.
    return `${blocks
      .map(({ pattern, entries }) =>
        [
          `Host ${pattern}`,
          ...entries.map(([key, value]) => `  ${key} ${formatValue(key, value)}`),
        ].join('\n'),
      )
      .join('\n\n')}\n`;
  }

  private write(): void {
    writeFileSync(this.configPath, this.config(), { mode: 0o600 });
  }

  /** Appends, never rewrites: with StrictHostKeyChecking no/accept-new ssh adds lines too. */
  private appendKnownHosts(line: string): void {
    appendFileSync(this.knownHostsPath, `${line.trim()}\n`, { mode: 0o600 });
  }
}

/** Creates an SshClient whose config and known_hosts live in `opts.dir` or a new tmpDir. */
export async function createSshClient(
  scope: Scope,
  opts: SshClientOptions = {},
): Promise<SshClient> {
  const dir = opts.dir ?? (await tmpDir(scope, 'burrow-ssh-'));
  return new SshClient(scope, dir, opts);
}
