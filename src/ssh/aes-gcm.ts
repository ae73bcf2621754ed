/**
 * Which AES-GCM implementation ssh2 runs in this process: its optional native binding
 * (sshcrypto.node: from source when `npm ci` built it, in the single executable when it was
 * embedded and loaded) or node:crypto. In the single executable, `reason` says why the embedded
 * binding was not loaded (scripts/sea-sshcrypto-binding.cjs leaves it under FALLBACK_KEY).
 */
import { ssh2PacketCrypto } from './ssh2.js';

export type AesGcmName = 'sshcrypto.node' | 'node:crypto';

/** The key scripts/sea-sshcrypto-binding.cjs writes its failure under. */
const FALLBACK_KEY = Symbol.for('burrow.sshcrypto.fallback');

export function aesGcmImplementation(): { name: AesGcmName; reason?: string } {
  if (ssh2PacketCrypto.bindingAvailable) return { name: 'sshcrypto.node' };
  const reason = (globalThis as Record<symbol, unknown>)[FALLBACK_KEY];
  return typeof reason === 'string' ? { name: 'node:crypto', reason } : { name: 'node:crypto' };
}

/**
 * The implementation's name, for a start-up log line; when the embedded binding was not loaded,
 * first one debug line with the reason.
 */
export function aesGcmForLog(log: { debug(obj: object, msg: string): void }): AesGcmName {
  const { name, reason } = aesGcmImplementation();
  if (reason) log.debug({ aesGcm: name, reason }, `AES-GCM uses node:crypto: ${reason}`);
  return name;
}
