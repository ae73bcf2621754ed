'use strict';
/**
 * Loads a native addon carried inside a single executable as a SEA asset: the one loader of
 * sea-sshcrypto-binding.cjs (ssh2's sshcrypto.node), sea-pty-binary.cjs (node-pty's pty.node) and
 * sea-shim-pump.cjs (the shim's shim-pump.node). Only build-binary.mjs bundles it.
 *
 * `loadAssetAddon(asset, sha256)` returns the addon's exports or throws. Before anything is
 * loaded: the asset's sha256 must equal `sha256`, fixed at build time (an esbuild define; not a
 * string: the executable was built without the asset); it is written to a fresh directory made by
 * mkdtemp (mode 0700) under $XDG_RUNTIME_DIR, or os.tmpdir() without it, as a file created
 * exclusively with mode 0500; the file is read back and its sha256 checked again; only then is it
 * loaded with process.dlopen. No other user can write to the file between the write and the load.
 * The file and its directory are removed right after the load, whatever happened (the loaded
 * library stays mapped). That file system must allow executable mappings (no `noexec`).
 *
 * Thrown messages are one line, safe to log: "this executable was built without <asset>", "the
 * embedded <asset> fails its sha256 check", or the write's or dlopen's own error.
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

function sha256Of(bytes) {
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

/** The node:sea API when running as a single executable, else undefined (also on old Node). */
function seaApi() {
  try {
    const sea = require('node:sea');
    return sea.isSea() ? sea : undefined;
  } catch {
    return undefined;
  }
}

function loadAssetAddon(asset, sha256) {
  if (typeof sha256 !== 'string') throw new Error(`this executable was built without ${asset}`);
  const sea = seaApi();
  if (!sea) throw new Error(`not running as a single executable: no embedded ${asset}`);
  const bytes = new Uint8Array(sea.getRawAsset(asset));
  if (sha256Of(bytes) !== sha256) throw new Error(`the embedded ${asset} fails its sha256 check`);
  const dir = fs.mkdtempSync(path.join(baseDir(), 'burrow-addon-'));
  try {
    const file = path.join(dir, asset);
    fs.writeFileSync(file, bytes, { mode: 0o500, flag: 'wx' });
    if (sha256Of(fs.readFileSync(file)) !== sha256) {
      throw new Error(`${file} differs from the embedded ${asset} once written`);
    }
    const addon = { exports: {} };
    process.dlopen(addon, file);
    return addon.exports;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

exports.loadAssetAddon = loadAssetAddon;
exports.seaApi = seaApi;
