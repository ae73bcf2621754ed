'use strict';
/**
 * Stands in for @lydell/node-pty's `requireBinary.js` inside the single-executable bundle
 * (build-binary.mjs swaps it in; nothing else loads this file). Same export, same contract:
 * `requireBinary('pty.node')` returns the native addon's exports or throws.
 *
 * Inside the executable there is no node_modules and `require` loads built-in modules only, so the
 * addon comes from the executable's own SEA asset of the same name: it is written to a fresh
 * private directory (mkdtemp, mode 0700, file created exclusively), loaded with process.dlopen,
 * and both are removed at once, whatever happened (the loaded library stays mapped). The directory
 * is under os.tmpdir() (TMPDIR); that file system must allow executable mappings (no `noexec`).
 *
 * node-pty asks for its addon as soon as it is imported, so inside the executable this returns a
 * stand-in that loads the addon on first use: commands that never open a terminal (`--version`,
 * `relay`) never write it to disk, and a load failure is thrown by the first pty call.
 *
 * Run by plain Node (the bundle outside an executable), it requires the platform package like
 * the original.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

/** The node:sea API when running as a single executable, else undefined (also on old Node). */
function seaApi() {
  try {
    const sea = require('node:sea');
    return sea.isSea() ? sea : undefined;
  } catch {
    return undefined;
  }
}

function loadEmbedded(sea, file) {
  let bytes;
  try {
    bytes = sea.getRawAsset(file);
  } catch (error) {
    throw new Error(`this executable was built without the native addon ${file}`, {
      cause: error,
    });
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'burrow-addon-'));
  try {
    fs.chmodSync(dir, 0o700);
    const addonPath = path.join(dir, file);
    fs.writeFileSync(addonPath, new Uint8Array(bytes), { mode: 0o700, flag: 'wx' });
    const addon = { exports: {} };
    process.dlopen(addon, addonPath);
    return addon.exports;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function requireBinary(file) {
  const sea = seaApi();
  if (sea) {
    let addon;
    const load = () => {
      addon ??= loadEmbedded(sea, file);
      return addon;
    };
    return new Proxy({}, { get: (_target, key) => load()[key] });
  }
  const packageName = `@lydell/node-pty-${process.platform}-${process.arch}`;
  return require(`${packageName}/${file}`);
}

exports.requireBinary = requireBinary;
