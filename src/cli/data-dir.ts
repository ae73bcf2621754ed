import { homedir } from 'node:os';
import { join } from 'node:path';
import { ENV_PREFIX } from '../core/constants.js';

/** burrow's own files (keys, policy, known_hosts, agent status): `$BURROW_DATA_DIR`, else ~/.burrow. */
export function defaultDataDir(): string {
  return process.env[`${ENV_PREFIX}DATA_DIR`] ?? join(homedir(), '.burrow');
}
