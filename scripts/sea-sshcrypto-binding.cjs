'use strict';
/**
 * Stands in for ssh2's `require('./crypto/build/Release/sshcrypto.node')` inside the
 * single-executable bundle (build-binary.mjs swaps it in; nothing else loads this file). Same
 * contract as that require: it returns the binding's exports or throws, and ssh2 catches the throw
 * and uses node:crypto instead.
 *
 * The binding is the executable's SEA asset `sshcrypto.node`, built by build-binary.mjs for the
 * executable's own Node. Before anything is loaded: the asset's sha256 must equal the one fixed at
 * build time (BURROW_SSHCRYPTO_SHA256, an esbuild define); it is written to a fresh directory made
 * by mkdtemp (mode 0700) under $XDG_RUNTIME_DIR, or os.tmpdir() without it, as a file created
 * exclusively with mode 0500; the file is read back and its sha256 checked again; only then is it
 * loaded with process.dlopen. No other user can write to the file between the write and the load.
 * The file and its directory are removed right after the load, whatever happened (the loaded
 * library stays mapped). That file system must allow executable mappings (no `noexec`).
 *
 * A failure (no asset, a wrong hash, a refused write, a dlopen error such as another Node ABI) is
 * thrown, and its message is kept where src/ssh/aes-gcm.ts reads it, for one debug log line.
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ASSET = 'sshcrypto.node';
/** Where the reason for the fallback is left; src/ssh/aes-gcm.ts reads the same key. */
const FALLBACK_KEY = Symbol.for('burrow.sshcrypto.fallback');

function sha256(bytes) {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

function baseDir() {
  const runtime = process.env.XDG_RUNTIME_DIR;
  if (runtime && path.isAbsolute(runtime)) {
    try {
      if (fs.statSync(runtime).isDirectory()) return runtime;
    } catch {}
  }
  return os.tmpdir();
}

function load() {
  const expected = BURROW_SSHCRYPTO_SHA256;
  if (typeof expected !== 'string') throw new Error('this executable was built without it');
  const sea = require('node:sea');
  const bytes = new Uint8Array(sea.getRawAsset(ASSET));
  if (sha256(bytes) !== expected) throw new Error(`the embedded ${ASSET} fails its sha256 check`);
  const dir = fs.mkdtempSync(path.join(baseDir(), 'burrow-sshcrypto-'));
  try {
    const file = path.join(dir, ASSET);
    fs.writeFileSync(file, bytes, { mode: 0o500, flag: 'wx' });
    if (sha256(fs.readFileSync(file)) !== expected) {
      throw new Error(`${file} differs from the embedded ${ASSET} once written`);
    }
    const addon = { exports: {} };
    process.dlopen(addon, file);
    return addon.exports;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

try {
  module.exports = load();
} catch (error) {
  globalThis[FALLBACK_KEY] = String(error?.message ?? error).split('\n')[0];
  throw error;
}
