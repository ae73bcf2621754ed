import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  cannotRecord,
  checkPins,
  type HostKeyDecision,
  type HostKeyTrust,
  judgeKnownHosts,
  parsePin,
} from '../core/host-key-trust.js';

export type { HostKeyDecision, HostKeyTrust };

/**
 * Builds the trust decision for a relay's host key (the decisions are `core/host-key-trust.ts`'s;
 * this adds the known_hosts file). Every `pinned` value is validated here, before any
 * connection: a bad one throws a `configError` naming `--relay-host-key`. With pins, only they
 * decide and `knownHostsFile` is never read. Otherwise the file is re-read on every `check` (a
 * missing file has no entries, malformed lines are ignored), and with `acceptNew` an unknown key
 * is appended to it, creating its directory (0700) and the file (0600) if needed. With
 * `firstUseFor`, only those `host:port` entries may be trusted on first use; any other relay
 * (one only the coordinator named) must already be known.
 */
export function hostKeyTrust(opts: {
  pinned: readonly string[];
  knownHostsFile: string;
  acceptNew: boolean;
  firstUseFor?: ReadonlySet<string>;
}): HostKeyTrust {
  const pins = opts.pinned.map(parsePin);
  if (pins.length > 0) {
    return {
      describe: pins.length === 1 ? 'pinned key' : `${pins.length} pinned keys`,
      check: (host, port, keyBlob) => checkPins(pins, host, port, keyBlob),
    };
  }
  const file = opts.knownHostsFile;
  return {
    describe: `known_hosts ${file}${opts.acceptNew ? ' (accept-new)' : ''}`,
    check: (host, port, keyBlob) => {
      const eligible = opts.firstUseFor?.has(`${host}:${port}`) ?? true;
      const d = checkFile(file, opts.acceptNew && eligible, host, port, keyBlob);
      if (d.ok || eligible || !opts.acceptNew || d.reason !== 'unknown') return d;
      return {
        ...d,
        message: `${d.message} (--accept-new applies only to --relay entries, not to relays the coordinator names)`,
      };
    },
  };
}

function checkFile(
  file: string,
  acceptNew: boolean,
  host: string,
  port: number,
  keyBlob: Buffer,
): HostKeyDecision {
  let text: string | { readError: string } = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = errno(err);
    if (code !== 'ENOENT') text = { readError: code };
  }
  const decision = judgeKnownHosts({ file, text, acceptNew, host, port, keyBlob });
  if (!('append' in decision)) return decision;
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    appendFileSync(file, decision.append, { mode: 0o600 });
  } catch (err) {
    return cannotRecord(file, host, port, keyBlob, errno(err));
  }
  return { ok: true, recorded: true };
}

function errno(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? 'error';
}
