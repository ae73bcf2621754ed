import { resolve } from 'node:path';

/**
 * The argv that starts this program again: `node /abs/main.js` when run from source, or the
 * single executable alone (whose argv[1] is not a script). Used to start the shim's holder and
 * in the systemd unit's ExecStart.
 */
export function selfArgv(): string[] {
  const script = process.argv[1];
  return script && /\.[cm]?js$/.test(script)
    ? [process.execPath, resolve(script)]
    : [process.execPath];
}
