import { Option } from 'commander';
import { ENV_PREFIX } from '../core/constants.js';
import { LOG_LEVELS } from './log.js';

/** An option that can also come from BURROW_<ENV> in the environment; `def` is its default. */
export function envOption(flags: string, description: string, env: string, def?: string): Option {
  const o = new Option(flags, description).env(`${ENV_PREFIX}${env}`);
  return def === undefined ? o : o.default(def);
}

/** `--log-level`, as every long-running command takes it. */
export function logLevelOption(): Option {
  return envOption(
    '--log-level <level>',
    'error, warn, info or debug',
    'LOG_LEVEL',
    'info',
  ).choices(LOG_LEVELS);
}
