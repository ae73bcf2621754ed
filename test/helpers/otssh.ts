/**
 * otssh as a process (the built binary, or the source through node) and an OpenSSH client that
 * trusts the host key it announces.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyPair } from './keys.js';
import { type Proc, type ProcOptions, startProc } from './proc.js';
import { type RunOptions, type RunResult, runCommand } from './run.js';
import type { Scope } from './scope.js';
import { tmpDir } from './tmp.js';
import { waitFor } from './wait.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
export const OTSSH_SOURCE = join(ROOT, 'dist/src/cli/otssh-main.js');
export const OTSSH_BINARY = join(ROOT, 'dist/bin/otssh');

/** How to start otssh: `binary` needs `npm run build:binary` (the binary test builds it). */
export type OtsshKind = 'binary' | 'source';

export function otsshArgv(kind: OtsshKind, args: string[]): [string, string[]] {
  if (kind === 'binary') {
    if (!existsSync(OTSSH_BINARY))
      throw new Error(`${OTSSH_BINARY} missing: run npm run build:binary`);
    return [OTSSH_BINARY, args];
  }
  return [process.execPath, [OTSSH_SOURCE, ...args]];
}

export interface Otssh {
  readonly proc: Proc;
  /** The first stdout line, as printed: `ssh-ed25519 AAAA…` (with `--announce-format
   * known-hosts`: `[*]:PORT ssh-ed25519 AAAA…`). */
  readonly keyLine: string;
  /** The host key in it: `ssh-ed25519 AAAA…`. */
  readonly hostKey: string;
}

/**
 * Starts otssh and waits until it accepts connections. The key line is printed *before* otssh
 * listens; the announce command is the signal that it does. Unless the test gives its own
 * `-announce`, one is added that writes a file, and that file is awaited.
 */
export async function startOtssh(
  scope: Scope,
  kind: OtsshKind,
  args: string[],
  opts: ProcOptions & { input?: string } = {},
): Promise<Otssh> {
  const own = args.some((a) => /^--?announce\b/.test(a));
  const dir = own ? undefined : await tmpDir(scope, 'burrow-otssh-');
  const ready = dir ? join(dir, 'announced') : undefined;
  const extra: string[] = [];
  if (dir && ready) {
    const hook = join(dir, 'announce.sh');
    writeFileSync(hook, `#!/bin/sh\nprintf '%s\\n' "$1" > ${ready}\n`, { mode: 0o755 });
    extra.push(`-announce=${hook}`);
  }
  const [cmd, argv] = otsshArgv(kind, [...args, ...extra]);
  const proc = startProc(scope, cmd, argv, { name: 'otssh', ...opts });
  if (opts.input !== undefined) proc.child.stdin?.end(opts.input);
  const m = await proc.waitForLine(/^(?:\S+ )?(ssh-ed25519 \S+)$/, { stream: 'stdout' });
  if (ready) {
    await waitFor(
      () => {
        if (proc.exit) throw new Error(`otssh exited: ${proc.tail()}`);
        return existsSync(ready);
      },
      { what: 'otssh to announce (it listens)' },
    );
  }
  return { proc, keyLine: m[0], hostKey: m[1] ?? '' };
}

/** Runs otssh to completion (for the error cases). */
export function runOtssh(
  scope: Scope,
  kind: OtsshKind,
  args: string[],
  opts: RunOptions = {},
): Promise<RunResult> {
  const [cmd, argv] = otsshArgv(kind, args);
  return runCommand(scope, cmd, argv, { timeoutMs: 20_000, ...opts });
}

/**
 * `ssh` arguments for a client of an otssh on 127.0.0.1:port that trusts exactly `hostKey` (the
 * announced `ssh-ed25519 AAAA…`, written to its known_hosts as the otssh spec suggests: `[host]:port
 * $1`) and logs in with `key`.
 */
export function otsshClientArgs(
  dir: string,
  port: number,
  hostKey: string,
  key: KeyPair,
): string[] {
  const kh = join(dir, `known_hosts_${port}`);
  writeFileSync(kh, `[127.0.0.1]:${port} ${hostKey}\n`);
  return [
    '-F',
    '/dev/null',
    '-o',
    `UserKnownHostsFile=${kh}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'IdentityAgent=none',
    '-o',
    'ConnectTimeout=10',
    '-o',
    'LogLevel=ERROR',
    '-i',
    key.path,
    '-p',
    String(port),
    'user@127.0.0.1',
  ];
}

export function ssh(scope: Scope, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return runCommand(scope, 'ssh', args, { timeoutMs: 20_000, ...opts });
}
