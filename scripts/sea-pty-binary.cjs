'use strict';
/**
 * Stands in for @lydell/node-pty's `requireBinary.js` inside the single-executable bundle
 * (build-binary.mjs swaps it in; nothing else loads this file). Same export, same contract:
 * `requireBinary('pty.node')` returns the native addon's exports or throws.
 *
 * Inside the executable there is no node_modules and `require` loads built-in modules only, so the
 * addon is the executable's own SEA asset of the same name, checked against its sha256
 * (BURROW_PTY_SHA256, an esbuild define) and loaded by sea-asset-addon.cjs.
 *
 * node-pty asks for its addon as soon as it is imported, so inside the executable this returns a
 * stand-in that loads the addon on first use: commands that never open a terminal (`--version`,
 * `relay`) never write it to disk, and a load failure is thrown by the first pty call.
 *
 * Run by plain Node (the bundle outside an executable), it requires the platform package like
 * the original.
 */
const { loadAssetAddon, seaApi } = require('./sea-asset-addon.cjs');

const ASSET = 'pty.node';

function requireBinary(file) {
  if (seaApi()) {
    let addon;
    const load = () => {
      addon ??= loadAssetAddon(file, file === ASSET ? BURROW_PTY_SHA256 : undefined);
      return addon;
    };
    return new Proxy({}, { get: (_target, key) => load()[key] });
  }
  const packageName = `@lydell/node-pty-${process.platform}-${process.arch}`;
  return require(`${packageName}/${file}`);
}

exports.requireBinary = requireBinary;
