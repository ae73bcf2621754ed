import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { embeddedPump, NATIVE_PUMP_PATH, PREBUILT_PUMP_PATH } from './native-pump-default.js';

/**
 * The shim's native byte path (native/pump.h, built into native/build/shim-pump.node by
 * scripts/build-native.mjs): its typed surface, and loading it. `burrow shim` moves its streams
 * with it through native-peer.ts; loading never throws, so the shim can always fall back to its
 * JavaScript path.
 *
 * Handles are opaque. Events reach `onEvent` on the main thread, a few per MiB, never per chunk;
 * none arrives after outClose/inClose, which join the object's thread and free its ring.
 */
export type PumpHandle = object & { readonly __pump?: never };

export type OutboundEvent = 'end' | 'broken';
export type InboundEvent = 'frame' | 'eof' | 'closed' | 'garbled';

export interface NativePump {
  /** A close-on-exec pipe with a 1 MiB buffer: [readFd, writeFd]. */
  pipe(): [number, number];
  /**
   * A new close-on-exec fd for what `fd` is; `fd` becomes /dev/null (for stdio, whose numbers
   * libuv never closes and must not be reused).
   */
  takeFd(fd: number): number;
  /**
   * Sets TCP_QUICKACK on a TCP socket (a delayed ACK goes out now); whether it took. Not the
   * shim's: burrow's SSH servers use it during a handshake (src/ssh/quick-ack.ts).
   */
  quickAck(fd: number): boolean;
  /** The write side of a connection; takes the fd (closed with its last reference). */
  wire(fd: number): PumpHandle;
  /** Queues a whole frame, written between data batches; false once the wire is closed or broken. */
  wireWrite(wire: PumpHandle, frame: Buffer): boolean;
  wireClose(wire: PumpHandle): void;
  /** Bytes of queued control frames not written yet (0 once closed or broken). */
  wireQueued(wire: PumpHandle): number;
  outbound(
    src: number,
    stream: number,
    capacity: number,
    /** `end`: the source ended after `a` bytes; `broken`: the wire of attachment `a` failed. */
    onEvent: (kind: OutboundEvent, a: number) => void,
  ): PumpHandle;
  /**
   * Sends from offset `from` (the peer's) on `wire`, then the eof once the source ended. Returns
   * the attachment's generation, which a `broken` event carries (its `a`).
   */
  outAttach(o: PumpHandle, wire: PumpHandle, from: number): number;
  outDetach(o: PumpHandle): void;
  outAck(o: PumpHandle, offset: number): void;
  /** [acked, highest sent, read from the source, source ended (0|1)] */
  outState(o: PumpHandle): [number, number, number, number];
  outRef(o: PumpHandle, keep: boolean): void;
  outClose(o: PumpHandle): void;
  inbound(
    capacity: number,
    ackEvery: number,
    ackDelayMs: number,
    onEvent: (
      kind: InboundEvent,
      a: number,
      b: number,
      data: Buffer | string | undefined,
      gen: number,
    ) => void,
  ): PumpHandle;
  inSink(i: PumpHandle, stream: number, fd: number, keepOpen: boolean): void;
  /**
   * Reads connection `fd` from now on; returns its generation, which its frame, closed and garbled
   * events carry: an event with another one comes from a connection attached before.
   */
  inAttach(i: PumpHandle, fd: number, reply: PumpHandle, afterHandshake: boolean): number;
  inDetach(i: PumpHandle): void;
  inAckAll(i: PumpHandle): void;
  inDelivered(i: PumpHandle, stream: number): number;
  inRef(i: PumpHandle, keep: boolean): void;
  inClose(i: PumpHandle): void;
  /** At process exit: no thread posts an event any more. */
  quiesce(): void;
}

/**
 * Where scripts/build-native.mjs puts the addon (native/build/shim-pump.node in the package);
 * inside a single executable, the name of its embedded copy.
 */
export { NATIVE_PUMP_PATH, PREBUILT_PUMP_PATH } from './native-pump-default.js';

export type PumpLoad =
  | { readonly pump: NativePump; readonly where: string; readonly reason?: undefined }
  | { readonly pump?: undefined; readonly reason: string };

/**
 * Loads the addon: the pump and where it came from, or why not, in one line for a debug log (not
 * Linux; not built; does not load; an older build). Never throws. With `path` (absolute, or
 * relative to the working directory), that file. Without: inside a single executable its
 * embedded copy (scripts/sea-shim-pump.cjs); else the file the install compiled
 * (NATIVE_PUMP_PATH), and where that is missing or does not load, the one prebuilt for this
 * architecture (PREBUILT_PUMP_PATH, in packages made by `npm pack`). Every load of the same addon
 * returns the same module.
 */
export function loadNativePump(path?: string): PumpLoad {
  if (process.platform !== 'linux') return { reason: `not Linux but ${process.platform}` };
  if (path !== undefined) return loadFile(resolve(path));
  if (embeddedPump) return checked('the embedded shim-pump.node', embeddedPump);
  const built = loadFile(NATIVE_PUMP_PATH);
  if (built.pump || !existsSync(PREBUILT_PUMP_PATH)) return built;
  const prebuilt = loadFile(PREBUILT_PUMP_PATH);
  return prebuilt.pump ? prebuilt : { reason: `${built.reason}; ${prebuilt.reason}` };
}

function loadFile(file: string): PumpLoad {
  if (!existsSync(file)) return { reason: `${file} is not built (node scripts/build-native.mjs)` };
  // Node's module cache makes a second load of the same file return the same module.
  return checked(file, () => createRequire(file)(file));
}

function checked(where: string, load: () => unknown): PumpLoad {
  try {
    const pump = load() as NativePump;
    const missing = ['outClose', 'inClose', 'wireQueued', 'takeFd', 'quickAck'].filter(
      (f) => typeof (pump as unknown as Record<string, unknown>)?.[f] !== 'function',
    );
    if (missing.length > 0) {
      return { reason: `${where} is an older build without ${missing.join(', ')} (rebuild it)` };
    }
    return { pump, where };
  } catch (err) {
    return {
      reason: `${where} does not load: ${String((err as Error)?.message ?? err).split('\n')[0]}`,
    };
  }
}

/**
 * The pump the shim uses, from BURROW_SHIM_NATIVE: unset or `1`, the native path when the addon
 * loads (else JavaScript's); `0`, JavaScript's; `require`, the native path or an Error saying why
 * not. Another value is an Error. Either Error's message is one line for the user.
 */
export function pumpFor(setting: string | undefined): NativePump | undefined {
  if (setting === '0') return undefined;
  if (setting !== undefined && setting !== '1' && setting !== 'require') {
    throw new Error(`BURROW_SHIM_NATIVE: expected 0, 1 or require, not ${JSON.stringify(setting)}`);
  }
  const load = loadNativePump();
  if (load.pump) {
    if (!quiescing.has(load.pump)) {
      quiescing.add(load.pump);
      // No native thread posts an event while Node tears down at exit.
      const { pump } = load;
      process.once('exit', () => pump.quiesce());
    }
    return load.pump;
  }
  if (setting === 'require') throw new Error(`BURROW_SHIM_NATIVE=require: ${load.reason}`);
  return undefined;
}
const quiescing = new WeakSet<NativePump>();
