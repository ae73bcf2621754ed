import type { LocalConfig } from './local.js';
import type { NativePump } from './native-pump.js';
import type { ServeDeps } from './serve.js';

export { parseSshArgs, SshArgsError, type SshCommandLine } from './ssh-args.js';
export type { LocalConfig, ServeDeps };

/**
 * The shim's two roles. Each loads its own modules only when it runs, so the processes of a
 * transfer (one of each role) do not load the other's.
 */

/** `burrow shim --serve`: the remote end of one connection; resolves to the exit status. */
export async function runServe(deps: ServeDeps): Promise<number> {
  const { runServe } = await import('./serve.js');
  return runServe(deps);
}

/** The local side: runs ssh, resumes the session when it breaks; resolves to the exit status. */
export async function runLocal(cfg: LocalConfig): Promise<number> {
  const { runLocal } = await import('./local.js');
  return runLocal(cfg);
}

/** The native byte path BURROW_SHIM_NATIVE chooses, if any (native-peer.ts); throws a one-line Error. */
export async function pumpFor(setting: string | undefined): Promise<NativePump | undefined> {
  const { pumpFor } = await import('./native-peer.js');
  return pumpFor(setting);
}
