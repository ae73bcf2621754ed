/**
 * The C programs of bench/experiments (floors measured without a runtime), compiled where an
 * experiment runs them.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { REPO_ROOT } from './report.js';

/**
 * Compiles `bench/experiments/<name>.c` with `cc -O2` into `exe`, linked with `libs`. Throws
 * with the compiler's first line and `needs` (the Debian packages it takes) when it cannot.
 */
export function compileExperiment(name: string, exe: string, libs: string[], needs: string): void {
  const source = join(REPO_ROOT, 'bench', 'experiments', `${name}.c`);
  const r = spawnSync('cc', ['-O2', '-o', exe, source, ...libs], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    const first = (r.error?.message ?? r.stderr).trim().split('\n')[0];
    throw new Error(`cannot build ${name}.c (needs ${needs}): ${first}`);
  }
}
