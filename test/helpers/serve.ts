/**
 * `burrow serve` for tests, as a process on free loopback ports, and `burrow ls` run against it.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { generateKey, type KeyPair } from './keys.js';
import { freePort } from './ports.js';
import type { Proc } from './proc.js';
import { CLI_PATH, startCli } from './relay.js';
import { runCommand } from './run.js';
import type { Scope } from './scope.js';

export interface Serve {
  readonly proc: Proc;
  readonly sshPort: number;
  readonly hostKey: KeyPair;
  readonly url: string;
}

/** `burrow serve` on free loopback ports, with its host key and policy file in `dir`. */
export async function startServe(s: Scope, dir: string, extra: string[] = []): Promise<Serve> {
  const hostKey = await generateKey(dir, 'host_key');
  const http = await freePort();
  const proc = startCli(
    s,
    [
      'serve',
      ...['--listen', '127.0.0.1:0', '--http', `127.0.0.1:${http}`],
      ...['--host-key', hostKey.path, '--authorized-keys', join(dir, 'authorized_keys')],
      ...['--drain-grace', '2s', '--log-format', 'text'],
      ...extra,
    ],
    { name: 'burrow serve' },
  );
  const m = await proc.waitForLine(
    /serving: ssh 127\.0\.0\.1:(\d+) \(host key (SHA256:\S+)\), status page (http:\/\/\S+)\/$/,
    { stream: 'stderr' },
  );
  assert.equal(m[2], hostKey.fingerprint, 'the host key fingerprint printed is the key served');
  assert.equal(m[3], `http://127.0.0.1:${http}`);
  return { proc, sshPort: Number(m[1]), hostKey, url: m[3] ?? '' };
}

/** `burrow ls …args`, to completion. */
export function ls(s: Scope, args: string[]) {
  return runCommand(s, process.execPath, [CLI_PATH, 'ls', ...args], { timeoutMs: 20_000 });
}

/** The table's rows (header first), split on the two-space column gaps. */
export function tableRows(stdout: string): string[][] {
  return stdout
    .trimEnd()
    .split('\n')
    .map((l) => l.split(/ {2,}/));
}
