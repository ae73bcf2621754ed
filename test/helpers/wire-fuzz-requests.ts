/**
 * The wire fuzzer's requests through ssh2's client: logins with hostile user names and methods,
 * and, once logged in, global requests with arbitrary payload bytes (ssh2 passes them on as
 * they are), channel opens and requests with hostile field values, and what is done on a channel
 * the relay opened. The transport is encrypted by then, so this is the level the fuzzer works at.
 */
import fc from 'fast-check';
import { sshString } from '../properties/arbitraries.js';
import { badLength, bytes, u32 } from './wire-fuzz.js';

/** One request made after authentication through ssh2's client, with hostile field values. */
export type PostAuthCase =
  | {
      readonly kind: 'global';
      readonly name: string;
      readonly wantReply: boolean;
      readonly data: Buffer;
    }
  | { readonly kind: 'forward-in'; readonly bind: string; readonly port: number }
  | {
      readonly kind: 'direct-tcpip';
      readonly host: string;
      readonly port: number;
      readonly after: ChannelAction;
    }
  | { readonly kind: 'direct-streamlocal'; readonly path: string; readonly after: ChannelAction }
  | { readonly kind: 'exec'; readonly command: string; readonly after: ChannelAction }
  | { readonly kind: 'shell' | 'subsystem'; readonly name: string };

/** What the fuzzer does on a channel the relay opened, before closing it. */
export type ChannelAction =
  | { readonly kind: 'close' }
  | { readonly kind: 'write'; readonly data: Buffer; readonly eof: boolean }
  | { readonly kind: 'write-after-eof'; readonly data: Buffer }
  | { readonly kind: 'signal'; readonly name: string }
  | { readonly kind: 'window'; readonly rows: number; readonly cols: number };

const channelAction: fc.Arbitrary<ChannelAction> = fc.oneof(
  fc.record({ kind: fc.constant('close' as const) }),
  fc.record({ kind: fc.constant('write' as const), data: bytes(4096), eof: fc.boolean() }),
  fc.record({ kind: fc.constant('write-after-eof' as const), data: bytes(512) }),
  fc.record({
    kind: fc.constant('signal' as const),
    name: fc.oneof(
      fc.constantFrom('INT', 'KILL', 'TERM', 'HUP'),
      fc.string({ unit: 'binary-ascii', maxLength: 20 }),
    ),
  }),
  fc.record({
    kind: fc.constant('window' as const),
    rows: fc.nat(0xffff_ffff),
    cols: fc.nat(0xffff_ffff),
  }),
);

const hostileText = fc.oneof(
  fc.constantFrom(
    '',
    '*',
    'localhost',
    '127.0.0.1',
    '::',
    '0.0.0.0',
    'dev1',
    'fz1',
    'fz1.sock',
    '/tmp/fz1.sock',
    '../../etc/passwd',
    'nc -U /x/dev1.sock',
    'nc -U /x/fz1.sock',
  ),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.nat(70_000).map((n) => 'a'.repeat(n)),
);
const hostilePort = fc.oneof(
  fc.constantFrom(0, 1, 22, 65535, 65536, 0x7fff_ffff, 0xffff_ffff),
  fc.nat(0xffff_ffff),
);
/** A request payload: a well-formed one for the name, mutated, truncated, or random. */
const globalData = fc.oneof(
  fc
    .tuple(hostileText, hostilePort)
    .map(([a, p]) => Buffer.concat([sshString(Buffer.from(a)), u32(p)])),
  fc.tuple(hostileText, hostilePort, fc.nat()).map(([a, p, cut]) => {
    const b = Buffer.concat([sshString(Buffer.from(a)), u32(p)]);
    return b.subarray(0, cut % (b.length + 1));
  }),
  fc.tuple(badLength, bytes(16)).map(([len, rest]) => Buffer.concat([u32(len), rest])),
  hostileText.map((a) => sshString(Buffer.from(a))),
  bytes(200),
);

export const postAuthCase: fc.Arbitrary<PostAuthCase> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('global' as const),
      name: fc.oneof(
        fc.constantFrom(
          'tcpip-forward',
          'cancel-tcpip-forward',
          'streamlocal-forward@openssh.com',
          'cancel-streamlocal-forward@openssh.com',
          'no-more-sessions@openssh.com',
          'keepalive@openssh.com',
          'hostkeys-prove-00@openssh.com',
          'drain@burrow',
        ),
        fc.string({ unit: 'binary-ascii', maxLength: 30 }),
      ),
      wantReply: fc.boolean(),
      data: globalData,
    }),
  },
  fc.record({
    kind: fc.constant('forward-in' as const),
    bind: hostileText,
    port: fc.oneof(fc.constantFrom(0, 22, 65535), fc.nat(65535)),
  }),
  fc.record({
    kind: fc.constant('direct-tcpip' as const),
    host: hostileText,
    port: hostilePort,
    after: channelAction,
  }),
  fc.record({
    kind: fc.constant('direct-streamlocal' as const),
    path: hostileText,
    after: channelAction,
  }),
  fc.record({ kind: fc.constant('exec' as const), command: hostileText, after: channelAction }),
  fc.record({ kind: fc.constantFrom('shell' as const, 'subsystem' as const), name: hostileText }),
);

/** A login attempt through ssh2's client with a hostile user name and method. */
export interface AuthCase {
  readonly username: string;
  readonly method: 'fuzz-key' | 'unknown-key' | 'password' | 'keyboard-interactive' | 'none';
  readonly password: string;
}

export const authCase: fc.Arbitrary<AuthCase> = fc.record({
  username: fc.oneof(
    fc.constantFrom('', 'root', 'burrow', '\u0000', 'a'.repeat(300)),
    fc.string({ unit: 'binary', maxLength: 80 }),
    fc.nat(30_000).map((n) => 'u'.repeat(n)),
  ),
  method: fc.constantFrom('fuzz-key', 'unknown-key', 'password', 'keyboard-interactive', 'none'),
  password: fc.string({ unit: 'binary', maxLength: 100 }),
});
