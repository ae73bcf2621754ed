/**
 * SSH keypairs made by the real ssh-keygen, and authorized_keys files with options.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type KeyType = 'ed25519' | 'rsa' | 'ecdsa';

export interface KeyPair {
  type: KeyType;
  /** Private key file (mode 0600), usable as IdentityFile / HostKey. */
  path: string;
  pubPath: string;
  /** The whole .pub line: `ssh-ed25519 AAAA… comment`. */
  publicLine: string;
  /** Algorithm and base64 only, `ssh-ed25519 AAAA…`, as in known_hosts and authorized_keys. */
  publicKey: string;
  /** `SHA256:…`, as printed by `ssh-keygen -lf` and logged by sshd and burrow. */
  fingerprint: string;
  comment: string;
}

export interface KeyOptions {
  /** Default 'ed25519'. */
  type?: KeyType;
  /** Default: the file name. */
  comment?: string;
  /** Key size for rsa (default 2048, to keep tests fast) or ecdsa. */
  bits?: number;
}

/**
 * Generates `dir/name` and `dir/name.pub` with `ssh-keygen -q -N ''`. Throws if `dir/name`
 * exists already (ssh-keygen would prompt).
 */
export async function generateKey(
  dir: string,
  name: string,
  opts: KeyOptions = {},
): Promise<KeyPair> {
  const { type = 'ed25519', comment = name } = opts;
  const path = join(dir, name);
  if (existsSync(path)) throw new Error(`key file exists already: ${path}`);
  const args = ['-q', '-t', type, '-N', '', '-C', comment, '-f', path];
  const bits = opts.bits ?? (type === 'rsa' ? 2048 : undefined);
  if (bits !== undefined) args.push('-b', String(bits));
  await run('ssh-keygen', args, { timeout: 30_000 });
  const pubPath = `${path}.pub`;
  const publicLine = (await readFile(pubPath, 'utf8')).trim();
  const [algorithm, base64] = publicLine.split(/\s+/);
  return {
    type,
    path,
    pubPath,
    publicLine,
    publicKey: `${algorithm} ${base64}`,
    fingerprint: await fingerprintOf(pubPath),
    comment,
  };
}

/** The SHA256 fingerprint of a public (or private) key file, from `ssh-keygen -E sha256 -lf`. */
export async function fingerprintOf(keyPath: string): Promise<string> {
  const { stdout } = await run('ssh-keygen', ['-E', 'sha256', '-lf', keyPath], { timeout: 30_000 });
  const match = stdout.match(/SHA256:[A-Za-z0-9+/]+/);
  if (!match) throw new Error(`no SHA256 fingerprint in ssh-keygen output: ${stdout}`);
  return match[0];
}

/** `ssh-ed25519 AAAA…` (type and key, no comment) of a private key file, as ssh-keygen -y derives it. */
export function publicKeyOf(keyPath: string): string {
  return execFileSync('ssh-keygen', ['-yf', keyPath], { encoding: 'utf8' })
    .split(' ')
    .slice(0, 2)
    .join(' ');
}

/**
 * One authorized_keys entry: a key (a KeyPair or a public key line) with options written
 * verbatim before it, joined by commas, e.g. `['permitlisten="dev1:22"', 'from="127.0.0.1"']`.
 */
export interface AuthorizedKey {
  key: KeyPair | string;
  options?: string[];
}

/** An authorized_keys entry: a complete line, a bare KeyPair (no options), or key plus options. */
export type AuthorizedEntry = AuthorizedKey | KeyPair | string;

/** The authorized_keys line for an entry. */
export function authorizedKeyLine(entry: AuthorizedEntry): string {
  if (typeof entry === 'string') return entry;
  if (!('key' in entry)) return entry.publicLine;
  const key = typeof entry.key === 'string' ? entry.key : entry.key.publicLine;
  const options = entry.options ?? [];
  return options.length > 0 ? `${options.join(',')} ${key}` : key;
}

/**
 * Writes an authorized_keys file (mode 0600), one line per entry. By default the file is
 * rewritten in place (same inode, one write call); `atomic: true` writes a sibling file and renames
 * it over the old one instead, as editors do.
 */
export async function writeAuthorizedKeys(
  path: string,
  entries: AuthorizedEntry[],
  opts: { atomic?: boolean } = {},
): Promise<void> {
  const text = entries.map((entry) => `${authorizedKeyLine(entry)}\n`).join('');
  if (opts.atomic) {
    const temp = `${path}.tmp-${process.pid}`;
    await writeFile(temp, text, { mode: 0o600 });
    await rename(temp, path);
  } else {
    await writeFile(path, text, { mode: 0o600 });
    await chmod(path, 0o600);
  }
}
