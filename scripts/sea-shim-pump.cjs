'use strict';
/**
 * Stands in for src/shim/native-pump-default.ts inside the single-executable bundle
 * (build-binary.mjs swaps it in; nothing else loads this file). Same exports: loadNativePump()
 * with no path calls `embeddedPump`, which loads the executable's SEA asset `shim-pump.node` (built
 * by build-native.mjs when the executable was built, checked against its sha256
 * BURROW_SHIM_PUMP_SHA256, an esbuild define) with sea-asset-addon.cjs, once: later calls return
 * the same exports or throw the same error. An executable built where the addon could not be
 * built has no asset, and the call throws "this executable was built without shim-pump.node":
 * the shim uses its JavaScript path.
 */
const { loadAssetAddon } = require('./sea-asset-addon.cjs');

const ASSET = 'shim-pump.node';
let outcome;

exports.NATIVE_PUMP_PATH = `${ASSET} (embedded in the executable)`;
exports.PREBUILT_PUMP_PATH = exports.NATIVE_PUMP_PATH; // never reached: embeddedPump comes first
exports.embeddedPump = () => {
  if (!outcome) {
    try {
      outcome = { exports: loadAssetAddon(ASSET, BURROW_SHIM_PUMP_SHA256) };
    } catch (error) {
      outcome = { error };
    }
  }
  if (outcome.error) throw outcome.error;
  return outcome.exports;
};
