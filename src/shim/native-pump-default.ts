import { join } from 'node:path';

/**
 * Where loadNativePump() (src/shim/native-pump.ts) finds the shim's native byte path when given
 * no path: the file scripts/build-native.mjs builds at install, native/build/shim-pump.node at the
 * package root (this module is compiled into dist/src/shim, and bundled into
 * dist/src/cli/shim-command.js by scripts/build.mjs: both three folders below the root).
 *
 * The single executables have no such file, and their CommonJS bundle has no import.meta:
 * scripts/build-binary.mjs bundles scripts/sea-shim-pump.cjs in place of this module. It has the
 * same exports, with `embeddedPump` loading the executable's SEA asset and NATIVE_PUMP_PATH
 * naming that asset.
 */
export const NATIVE_PUMP_PATH = join(
  import.meta.dirname,
  '..',
  '..',
  '..',
  'native',
  'build',
  'shim-pump.node',
);

/**
 * The addon prebuilt for this machine's architecture (scripts/prebuild.mjs, which `npm pack` runs):
 * loadNativePump() falls back to it where NATIVE_PUMP_PATH is missing or does not load, as on a
 * machine with no C compiler that installed a packed burrow.
 */
export const PREBUILT_PUMP_PATH = join(
  import.meta.dirname,
  '..',
  '..',
  '..',
  'prebuilds',
  `linux-${process.arch}`,
  'shim-pump.node',
);

/**
 * Inside a single executable: loads its embedded addon once and returns its exports (the same
 * object every call), or throws a one-line reason. Outside one: undefined, the file is used.
 */
export const embeddedPump: (() => unknown) | undefined = undefined;
