import { realpathSync, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';

/**
 * The argv that starts this program again, as an absolute command line that does not depend on
 * PATH or on how it was started: `node /real/path/of/main.js` when run by Node from a script
 * (through an npm bin symlink, npx or directly), or the single executable alone. Used for the
 * systemd unit's ExecStart.
 *
 * Node makes a script's argv[1] absolute, while a single executable's argv[1] repeats its own
 * argv[0] (a bare name when found on PATH, or its own path), so argv[1] is taken as the script
 * only when it is absolute, is an existing file, and is not the executable itself.
 */
export function selfArgv(): string[] {
  const execPath = realpathSync(process.execPath);
  const script = process.argv[1];
  if (!script || !isAbsolute(script)) return [execPath];
  let real: string;
  try {
    real = realpathSync(script);
    if (!statSync(real).isFile()) return [execPath];
  } catch {
    return [execPath];
  }
  return real === execPath ? [execPath] : [execPath, real];
}
