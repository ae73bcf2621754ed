'use strict';
/**
 * Stands in for ssh2's `require('./crypto/build/Release/sshcrypto.node')` inside the
 * single-executable bundle (build-binary.mjs swaps it in; nothing else loads this file). Same
 * contract as that require: it returns the binding's exports or throws, and ssh2 catches the throw
 * and uses node:crypto instead.
 *
 * The binding is the executable's SEA asset `sshcrypto.node`, built by build-binary.mjs for the
 * executable's own Node, checked against its sha256 (BURROW_SSHCRYPTO_SHA256, an esbuild define)
 * and loaded by sea-asset-addon.cjs. A failure (no asset, a wrong hash, a refused write, a dlopen
 * error such as another Node ABI) is thrown, and its message is kept where src/ssh/aes-gcm.ts
 * reads it, for one debug log line.
 */
const { loadAssetAddon } = require('./sea-asset-addon.cjs');

/** Where the reason for the fallback is left; src/ssh/aes-gcm.ts reads the same key. */
const FALLBACK_KEY = Symbol.for('burrow.sshcrypto.fallback');

try {
  module.exports = loadAssetAddon('sshcrypto.node', BURROW_SSHCRYPTO_SHA256);
} catch (error) {
  globalThis[FALLBACK_KEY] = String(error?.message ?? error).split('\n')[0];
  throw error;
}
