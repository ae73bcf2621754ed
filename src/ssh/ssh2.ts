/**
 * ssh2, loaded with a pooled random source for its packet padding (see ssh2-prelude.cts), and
 * checked for every seam burrow relies on. The only module that loads ssh2 or its `lib/` files at
 * run time; the rest of src/ssh imports ssh2 from here.
 *
 * Seams, all from ssh2 1.17.0 as patched by patches/ssh2+1.17.0.patch (applied by `npm ci`):
 * - on both ssh2 `Client` and the server's connection object: `sendDebug`, `sendGlobalRequest`,
 *   the `socket` and `isAuthenticated` getters, the 'debug-message' and 'global-request' events;
 *   on the connection also `sendAuthBanner`;
 * - flow control: `checkIncomingData` in lib/Channel.js (see violations.ts);
 * - the channel-open `reject(reasonCode, description)` (see connection.ts);
 * - the padding of every packet drawn from `pooledRandomFill` (the prelude's swap was taken).
 * Contract: loading this module throws a BurrowError `SSH2_SEAM_MISSING` naming the ssh2 version
 * and the first missing seam, so an upgrade or a lost patch stops burrow at start instead of
 * silently dropping drain handling or refusal reasons.
 *
 * Must be evaluated before anything else loads ssh2: a module already in the cache would be
 * unpooled. The import order below is the mechanism: loading the prelude swaps
 * `crypto.randomFillSync`, then ssh2 loads and takes its reference, then this module's body
 * restores it. The prelude's first import is a bare one because import sorting never moves an
 * import across a bare import; the named one after it only reads the already-loaded module.
 */
import './ssh2-prelude.cjs';
import ssh2 from 'ssh2';
// The lib/ modules below are already loaded by ssh2 itself, so these read the cached modules.
import ssh2Channel from 'ssh2/lib/Channel.js';
import ssh2Constants from 'ssh2/lib/protocol/constants.js';
import ssh2Crypto from 'ssh2/lib/protocol/crypto.js';
import ssh2Package from 'ssh2/package.json' with { type: 'json' };
import { BurrowError } from '../core/errors.js';
import prelude from './ssh2-prelude.cjs';

prelude.restoreRandomFill();

declare module 'ssh2' {
  /** What burrow's patch adds to ssh2's client (see patches/ssh2+1.17.0.patch). */
  interface Client {
    /** The stream the connection runs over. */
    readonly socket: import('node:stream').Duplex | undefined;
    /** True once the server accepted authentication on the current connection. */
    readonly isAuthenticated: boolean;
    /** Sends SSH_MSG_DEBUG; false (nothing sent) when not connected. */
    sendDebug(message: string, alwaysDisplay?: boolean): boolean;
    /** Sends SSH_MSG_GLOBAL_REQUEST; `cb` gets the reply when `wantReply`. */
    sendGlobalRequest(
      name: string,
      wantReply: boolean,
      data?: Buffer,
      cb?: (err: Error | undefined, data?: Buffer | null) => void,
    ): boolean;
    on(event: 'debug-message', listener: (message: string, alwaysDisplay: boolean) => void): this;
    /** A global request ssh2 does not handle itself; ssh2 still refuses it if asked to reply. */
    on(
      event: 'global-request',
      listener: (name: string, wantReply: boolean, data: Buffer) => void,
    ): this;
  }
  /** What burrow's patch adds to the server's per-connection object. */
  interface Connection {
    /** The stream the connection runs over (the one given to `injectSocket`). */
    readonly socket: import('node:stream').Duplex;
    /** True once an authentication context has been accepted. */
    readonly isAuthenticated: boolean;
    /** Sends SSH_MSG_DEBUG; false (nothing sent) once the socket is gone. */
    sendDebug(message: string, alwaysDisplay?: boolean): boolean;
    /** Sends SSH_MSG_USERAUTH_BANNER; false (nothing sent) once authenticated or closed. */
    sendAuthBanner(message: string): boolean;
    /** Sends SSH_MSG_GLOBAL_REQUEST; a reply is ignored. False once the socket is gone. */
    sendGlobalRequest(name: string, wantReply: boolean, data?: Buffer): boolean;
    on(event: 'debug-message', listener: (message: string, alwaysDisplay: boolean) => void): this;
    on(
      event: 'global-request',
      listener: (name: string, wantReply: boolean, data: Buffer) => void,
    ): this;
  }
}

export const { pooledRandomFill, pooledBytesServed } = prelude;
/** RFC 4254 reason codes for a refused channel open, as ssh2 names them. */
export const { CHANNEL_OPEN_FAILURE } = ssh2Constants;
/** ssh2's packet ciphers (lib/protocol/crypto.js), for measuring them (bench/experiments). */
export { ssh2Crypto as ssh2PacketCrypto };

/** The parts of a loaded ssh2 that the seam check looks at. */
export interface Ssh2Seams {
  readonly version: string;
  readonly clientPrototype: object;
  readonly connectionPrototype: object | undefined;
  readonly checkIncomingData: unknown;
  readonly channelOpenFailure: unknown;
  /** True when ssh2's packet padding draws from the pool. */
  readonly paddingPooled: () => boolean;
}

const CLIENT_METHODS = ['sendDebug', 'sendGlobalRequest'];
const CONNECTION_METHODS = ['sendDebug', 'sendAuthBanner', 'sendGlobalRequest'];
const GETTERS = ['socket', 'isAuthenticated'];

/** The first seam `seams` lacks, named for the error message, or undefined when all are there. */
export function missingSeam(seams: Ssh2Seams): string | undefined {
  const lacks = (proto: object, names: readonly string[], kind: 'method' | 'getter') =>
    names.find((name) => {
      const d = Object.getOwnPropertyDescriptor(proto, name);
      return kind === 'method' ? typeof d?.value !== 'function' : typeof d?.get !== 'function';
    });
  const client = seams.clientPrototype;
  const clientGap = lacks(client, CLIENT_METHODS, 'method') ?? lacks(client, GETTERS, 'getter');
  if (clientGap) return `Client#${clientGap}`;
  const conn = seams.connectionPrototype;
  if (!conn) return 'Server.IncomingClient';
  const connGap = lacks(conn, CONNECTION_METHODS, 'method') ?? lacks(conn, GETTERS, 'getter');
  if (connGap) return `Server.IncomingClient#${connGap}`;
  if (typeof seams.checkIncomingData !== 'function') return 'Channel.checkIncomingData';
  const codes = seams.channelOpenFailure as Record<string, unknown> | undefined;
  if (typeof codes?.ADMINISTRATIVELY_PROHIBITED !== 'number') return 'CHANNEL_OPEN_FAILURE';
  if (!seams.paddingPooled()) return 'pooled packet padding';
  return undefined;
}

/** Throws SSH2_SEAM_MISSING naming the version and the missing seam, if any is missing. */
export function assertSeams(seams: Ssh2Seams): void {
  const missing = missingSeam(seams);
  if (missing === undefined) return;
  throw new BurrowError(
    'SSH2_SEAM_MISSING',
    `ssh2 ${seams.version}: ${missing} is missing; burrow needs ssh2 1.17.0 with ` +
      'patches/ssh2+1.17.0.patch applied',
  );
}

assertSeams({
  version: ssh2Package.version,
  clientPrototype: ssh2.Client.prototype,
  connectionPrototype: (ssh2.Server as { IncomingClient?: { prototype: object } }).IncomingClient
    ?.prototype,
  checkIncomingData: ssh2Channel.checkIncomingData,
  channelOpenFailure: ssh2Constants.CHANNEL_OPEN_FAILURE,
  paddingPooled: () => {
    // The unencrypted cipher pads exactly as the real ones do, with crypto.js's reference to
    // randomFillSync; a 1-byte payload gets 10 bytes of padding.
    const before = pooledBytesServed();
    new ssh2Crypto.NullCipher(0, () => {}).allocPacket(1);
    return pooledBytesServed() > before;
  },
});

export default ssh2;
