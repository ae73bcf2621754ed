import { execFile } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { OtsshError } from './otssh-error.js';

/**
 * The host patterns of a known_hosts line for this server. OpenSSH looks a host up as `host` on
 * port 22 and `[host]:port` otherwise; a port chosen by the kernel (0) is not known yet, so that
 * pattern matches any host and port. Through a relay the host is the registered name.
 */
export function knownHostsPatterns(port: number | undefined, name: string | undefined): string {
  const listen = port === undefined ? undefined : port === 22 || port === 0 ? '*' : `[*]:${port}`;
  return [listen, name].filter(Boolean).join(',');
}

/** Runs the announce command with the key line; resolves when it exits 0. */
export function announce(cmd: string, keyLine: string): Promise<void> {
  const path = resolveExecutable(cmd);
  if (!path)
    throw new OtsshError(
      'announce-invalid',
      `Invalid announce command: ${cmd}: not found or not executable`,
    );
  return new Promise((resolve, reject) => {
    execFile(path, [keyLine], { maxBuffer: 1024 * 1024 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const e = err as NodeJS.ErrnoException & { code?: number | string };
      if (typeof e.code === 'string') {
        return reject(
          new OtsshError('announce-invalid', `Invalid announce command: ${cmd}: ${e.code}`),
        );
      }
      reject(
        new OtsshError(
          'announce-failed',
          `Announce failed: ${e.code ?? 'signal'} ${String(stderr).trim()}`,
        ),
      );
    });
  });
}

function resolveExecutable(cmd: string): string | undefined {
  const candidates = cmd.includes('/')
    ? [cmd]
    : (process.env.PATH ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((d) => join(d, cmd));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      if (statSync(c).isFile()) return isAbsolute(c) || c.includes('/') ? c : join('.', c);
    } catch {
      // not this one
    }
  }
  return undefined;
}
