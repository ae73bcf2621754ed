/**
 * A real OpenSSH sshd on 127.0.0.1, run as root with everything (config, host key,
 * authorized_keys, logs) in a temp dir. Tests use it as the device behind the relay; the
 * benchmarks also use it, with extra config, as the OpenSSH reverse-jumphost baseline.
 */
import { mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { type AuthorizedEntry, generateKey, type KeyPair, writeAuthorizedKeys } from './keys.js';
import { onFreePort } from './ports.js';
import { type ExitInfo, type Proc, startProc } from './proc.js';
import { newToken, TOKEN_ENV } from './reaper.js';
import type { Scope } from './scope.js';
import { tmpDir } from './tmp.js';
import { waitFor, waitForPort } from './wait.js';

export const SSHD_PATH = '/usr/sbin/sshd';

export interface SshdOptions {
  /** Directory for config, host key and authorized_keys; default: a new tmpDir. */
  dir?: string;
  /** Initial authorized_keys entries; default none (nobody can log in). */
  authorizedKeys?: AuthorizedEntry[];
  /**
   * sshd_config lines. Lines before the first `Match` go at the top, and a keyword set there
   * replaces the default for it (sshd takes the first value of a keyword); `HostKey` and
   * `ListenAddress` and `SetEnv` are always kept, since the helper relies on them (variables of
   * extra `SetEnv` lines are added to the helper's). `Match` blocks go at the end.
   */
  extraConfig?: string[];
  /** Name in diagnostics; default 'sshd'. */
  name?: string;
  /** Bound for startup (the banner answering); default 10 000 ms. */
  timeoutMs?: number;
}

export interface Sshd {
  host: '127.0.0.1';
  port: number;
  dir: string;
  configPath: string;
  authorizedKeysPath: string;
  hostKey: KeyPair;
  /** `ssh-ed25519 AAAA…` (no comment). */
  hostKeyPub: string;
  /**
   * A known_hosts line for this sshd under `host`, default `[127.0.0.1]:port`. Pass the name the
   * client will look up instead: a HostKeyAlias, or `dev1` for a device reached as `-J relay dev1`.
   */
  knownHostsLine(host?: string): string;
  /** Replaces authorized_keys; sshd reads it on every login, so no restart is needed. */
  setAuthorizedKeys(entries: AuthorizedEntry[]): Promise<void>;
  proc: Proc;
  /** sshd's log so far (LogLevel VERBOSE, on stderr through -e). */
  log(): string;
  /** Stops the listener and every session process it started. Idempotent. */
  stop(): Promise<ExitInfo>;
}

const PROTECTED = new Set(['hostkey', 'listenaddress', 'setenv']);

function defaults(dir: string, hostKey: string, port: number, token: string): [string, string][] {
  return [
    // Marks session commands so cleanup finds them after they are orphaned (see reaper.ts). HOME:
    // sessions run the login shell, and bash reads ~/.bashrc for ssh commands; the machine's own
    // (root's pyenv init, say) must not run, slow or lock up every test session.
    ['SetEnv', `${TOKEN_ENV}=${token} HOME=${join(dir, 'home')}`],
    ['ListenAddress', `127.0.0.1:${port}`],
    ['AddressFamily', 'inet'],
    ['HostKey', hostKey],
    ['PidFile', 'none'],
    ['AuthorizedKeysFile', join(dir, 'authorized_keys')],
    // The temp dir lives under /tmp (mode 1777), which StrictModes would reject.
    ['StrictModes', 'no'],
    ['UsePAM', 'no'],
    ['PermitRootLogin', 'prohibit-password'],
    ['PubkeyAuthentication', 'yes'],
    ['PasswordAuthentication', 'no'],
    ['KbdInteractiveAuthentication', 'no'],
    ['Subsystem', 'sftp internal-sftp'],
    ['AllowTcpForwarding', 'yes'],
    ['AllowStreamLocalForwarding', 'yes'],
    ['StreamLocalBindUnlink', 'yes'],
    ['GatewayPorts', 'no'],
    ['X11Forwarding', 'no'],
    ['PrintMotd', 'no'],
    ['PrintLastLog', 'no'],
    ['UseDNS', 'no'],
    ['MaxStartups', '100:30:200'],
    ['MaxSessions', '100'],
    ['LoginGraceTime', '30'],
    ['LogLevel', 'VERBOSE'],
  ];
}

/** Builds the sshd_config text; exported for tests of the helper itself. */
export function sshdConfig(
  dir: string,
  hostKey: string,
  port: number,
  token: string,
  extra: string[] = [],
): string {
  const matchAt = extra.findIndex((line) => /^\s*match\s/i.test(line));
  const head = matchAt < 0 ? extra : extra.slice(0, matchAt);
  const tail = matchAt < 0 ? [] : extra.slice(matchAt);
  const keyword = (line: string): string => line.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
  const overridden = new Set(head.map(keyword).filter(Boolean));
  // sshd keeps only the first SetEnv line, so the caller's variables join the token's line.
  const setEnv = head
    .filter((line) => keyword(line) === 'setenv')
    .map((line) => line.trim().replace(/^\S+\s+/, ''));
  const lines = [
    '# written by test/helpers/sshd.ts',
    ...head.filter((line) => keyword(line) !== 'setenv'),
    ...defaults(dir, hostKey, port, token)
      .filter(([key]) => PROTECTED.has(key.toLowerCase()) || !overridden.has(key.toLowerCase()))
      .map(([key, value]) => (key === 'SetEnv' ? [key, value, ...setEnv] : [key, value]).join(' ')),
    ...tail,
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * Starts sshd (`-D -e -f config`) on a free 127.0.0.1 port and resolves once it answers with an
 * `SSH-2.0-` banner. Retries with another port if the chosen one was taken meanwhile. Rejects,
 * quoting sshd's log, if sshd exits or does not answer within `timeoutMs`. The stop is registered
 * with `scope`.
 */
export async function startSshd(scope: Scope, opts: SshdOptions = {}): Promise<Sshd> {
  // Privilege separation directory; Debian creates it at boot or service start only.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const dir = opts.dir ?? (await tmpDir(scope, 'burrow-sshd-'));
  mkdirSync(join(dir, 'home'), { recursive: true, mode: 0o700 });
  const name = opts.name ?? 'sshd';
  const hostKey = await generateKey(dir, 'ssh_host_ed25519_key', { comment: `${name}-host-key` });
  const authorizedKeysPath = join(dir, 'authorized_keys');
  await writeAuthorizedKeys(authorizedKeysPath, opts.authorizedKeys ?? []);
  const configPath = join(dir, 'sshd_config');

  const start = async (port: number): Promise<Sshd> => {
    const token = newToken();
    await writeFile(configPath, sshdConfig(dir, hostKey.path, port, token, opts.extraConfig), {
      mode: 0o600,
    });
    const proc = startProc(scope, SSHD_PATH, ['-D', '-e', '-f', configPath], {
      name: `${name}:${port}`,
      stdin: 'ignore',
      token,
    });
    // The banner alone could come from another test file's listener that took the port after
    // freePort() let it go; sshd's own log line says the port is this sshd's.
    const listening = `Server listening on 127.0.0.1 port ${port}.`;
    const ready = waitForPort(port, {
      banner: /^SSH-2\.0-/,
      timeoutMs: opts.timeoutMs ?? 10_000,
      what: `${name} on 127.0.0.1:${port} to send its banner`,
    })
      .then(() =>
        waitFor(() => proc.output('stderr').includes(listening), {
          timeoutMs: opts.timeoutMs ?? 10_000,
          what: `${name}'s log to say "${listening}"`,
        }),
      )
      .then(() => true);
    const exited = proc.stopped().then(() => false);
    let answered: boolean;
    try {
      answered = await Promise.race([ready, exited]);
    } catch (err) {
      await proc.stop();
      throw new Error(`${(err as Error).message}\nsshd log:\n${proc.output()}`);
    }
    if (!answered) {
      // Says "address already in use" when another process took the port: onFreePort tries another.
      throw new Error(
        `sshd exited during startup (${JSON.stringify(proc.exit)}):\n${proc.output()}`,
      );
    }
    return {
      host: '127.0.0.1',
      port,
      dir,
      configPath,
      authorizedKeysPath,
      hostKey,
      hostKeyPub: hostKey.publicKey,
      knownHostsLine: (host = `[127.0.0.1]:${port}`) => `${host} ${hostKey.publicKey}`,
      setAuthorizedKeys: (entries) => writeAuthorizedKeys(authorizedKeysPath, entries),
      proc,
      log: () => proc.output(),
      stop: () => proc.stop(),
    };
  };
  return (await onFreePort(start)).value;
}
