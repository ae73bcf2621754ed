/**
 * The wire fuzzer's pre-auth generators: SSH transport bytes a client might send before
 * authentication (RFC 4253: the version line, unencrypted binary packets, KEXINIT), mutated, and
 * the raw connection that sends them. Deterministic: a case is a value fast-check generated from
 * a seed.
 *
 * After authentication the transport is encrypted, so raw packets cannot be injected without
 * reaching into ssh2's internals; what the fuzzer sends there is in wire-fuzz-requests.ts.
 */
import { connect } from 'node:net';
import fc from 'fast-check';
import { sshString } from '../properties/arbitraries.js';

/** SSH_MSG_* numbers the fuzzer sends before keys are exchanged. */
const MSG = {
  disconnect: 1,
  ignore: 2,
  unimplemented: 3,
  debug: 4,
  serviceRequest: 5,
  kexinit: 20,
  newkeys: 21,
  kexEcdhInit: 30,
  userauthRequest: 50,
  globalRequest: 80,
  channelOpen: 90,
} as const;

export const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

/** A binary packet as sent before NEWKEYS: length, padding length, payload, padding (8-aligned). */
export function packet(payload: Buffer): Buffer {
  let pad = 8 - ((5 + payload.length) % 8);
  if (pad < 4) pad += 8;
  return Buffer.concat([
    u32(1 + payload.length + pad),
    Buffer.from([pad]),
    payload,
    Buffer.alloc(pad),
  ]);
}

const ALGORITHMS = [
  'curve25519-sha256,ecdh-sha2-nistp256,diffie-hellman-group14-sha256,kex-strict-c-v00@openssh.com',
  'ssh-ed25519,rsa-sha2-256',
  'aes128-ctr,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com',
  'aes128-ctr,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com',
  'hmac-sha2-256,hmac-sha2-256-etm@openssh.com',
  'hmac-sha2-256,hmac-sha2-256-etm@openssh.com',
  'none',
  'none',
  '',
  '',
];

/** A KEXINIT payload whose ten name-lists are `lists` (the ones a real client offers by default). */
export function kexinit(
  lists: readonly string[] = ALGORITHMS,
  cookie = Buffer.alloc(16, 7),
): Buffer {
  return Buffer.concat([
    Buffer.from([MSG.kexinit]),
    cookie,
    ...lists.map((l) => sshString(Buffer.from(l, 'latin1'))),
    Buffer.from([0]),
    u32(0),
  ]);
}

export const VERSION_LINE = Buffer.from('SSH-2.0-OpenSSH_9.6 fuzz\r\n');

/** One pre-auth case: bytes to write, and whether to half-close (send EOF) after them. */
export interface PreAuthCase {
  readonly what: string;
  readonly bytes: Buffer;
  readonly end: boolean;
  /** Write one byte every this many ms (a slow client), instead of all at once. */
  readonly trickleMs?: number;
}

export const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((b) => Buffer.from(b));

/** Flips `flips` bits of `buf` (a copy) at positions drawn from `at`. */
function flipped(buf: Buffer, flips: [number, number][]): Buffer {
  const out = Buffer.from(buf);
  for (const [at, bit] of flips) {
    const i = at % out.length;
    out[i] = out[i]! ^ (1 << bit);
  }
  return out;
}

const flips = fc.array(fc.tuple(fc.nat(), fc.nat(7)), { minLength: 1, maxLength: 6 });
const nameList = fc.oneof(
  fc.constantFrom(...ALGORITHMS),
  fc
    .array(fc.constantFrom('curve25519-sha256', 'ssh-ed25519', 'none', 'zlib', 'x', ',', ''), {
      maxLength: 6,
    })
    .map((a) => a.join(',')),
  fc.string({ unit: 'binary-ascii', maxLength: 40 }),
  fc.nat(40_000).map((n) => 'a,'.repeat(n)),
);
/** Lengths that break framing: zero, one, just past the limits, huge, negative as u32. */
export const badLength = fc.constantFrom(
  0,
  1,
  4,
  5,
  35_000,
  256 * 1024 + 1,
  0x7fff_ffff,
  0xffff_ffff,
);

/** Things a hostile or broken client sends before authentication, each a named shape. */
const preAuthShape: fc.Arbitrary<PreAuthCase> = fc.oneof(
  fc.record({
    what: fc.constant('version line: random bytes'),
    bytes: bytes(300),
    end: fc.boolean(),
  }),
  fc.record({
    what: fc.constant('version line: mutated'),
    bytes: flips.map((f) => flipped(VERSION_LINE, f)),
    end: fc.boolean(),
  }),
  fc.record({
    what: fc.constant('version line: long, NUL, no CRLF, many banner lines'),
    bytes: fc
      .tuple(
        fc.constantFrom('SSH-2.0-', 'SSH-1.99-', 'SSH-1.5-', 'SSH-', 'GET / HTTP/1.1', ''),
        fc.oneof(
          fc.nat(70_000).map((n) => 'x'.repeat(n)),
          fc.constant('a\u0000b'),
          fc.string({ maxLength: 20 }),
        ),
        fc.constantFrom('\r\n', '\n', '', '\r'),
        fc.nat(300),
      )
      .map(([p, body, eol, banners]) =>
        Buffer.from(`${'banner\r\n'.repeat(banners)}${p}${body}${eol}`, 'latin1'),
      ),
    end: fc.boolean(),
  }),
  fc.record({
    what: fc.constant('KEXINIT with mutated bits'),
    bytes: flips.map((f) => Buffer.concat([VERSION_LINE, flipped(packet(kexinit()), f)])),
    end: fc.boolean(),
  }),
  fc.record({
    what: fc.constant('KEXINIT with hostile name-lists'),
    bytes: fc
      .array(nameList, { minLength: 10, maxLength: 10 })
      .map((lists) => Buffer.concat([VERSION_LINE, packet(kexinit(lists))])),
    end: fc.boolean(),
  }),
  fc.record({
    what: fc.constant('KEXINIT truncated or with a bad packet or field length'),
    bytes: fc
      .tuple(badLength, fc.nat(), fc.constantFrom('packet', 'padding', 'name-list', 'cut'))
      .map(([len, at, where]) => {
        const p = packet(kexinit());
        if (where === 'packet') p.writeUInt32BE(len >>> 0, 0);
        else if (where === 'padding') p[4] = len & 0xff;
        else if (where === 'name-list') p.writeUInt32BE(len >>> 0, 5 + 17);
        const body = where === 'cut' ? p.subarray(0, at % p.length) : p;
        return Buffer.concat([VERSION_LINE, body]);
      }),
    end: fc.boolean(),
  }),
  fc.record({
    what: fc.constant('random bytes after the version line'),
    bytes: bytes(3000).map((b) => Buffer.concat([VERSION_LINE, b])),
    end: fc.boolean(),
  }),
  fc.record({
    what: fc.constant('messages out of order before or during key exchange'),
    bytes: fc
      .tuple(
        fc.boolean(),
        fc.array(fc.tuple(fc.constantFrom(...Object.values(MSG), 0, 19, 99, 255), bytes(64)), {
          minLength: 1,
          maxLength: 6,
        }),
      )
      .map(([kex, msgs]) =>
        Buffer.concat([
          VERSION_LINE,
          ...(kex ? [packet(kexinit())] : []),
          ...msgs.map(([type, body]) => packet(Buffer.concat([Buffer.from([type]), body]))),
        ]),
      ),
    end: fc.boolean(),
  }),
  fc.record({
    what: fc.constant('ECDH init with a hostile public key'),
    bytes: fc
      .oneof(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 100 }))
      .map((pub) =>
        Buffer.concat([
          VERSION_LINE,
          packet(kexinit()),
          packet(Buffer.concat([Buffer.from([MSG.kexEcdhInit]), sshString(Buffer.from(pub))])),
        ]),
      ),
    end: fc.boolean(),
  }),
);

/** A pre-auth shape, sent all at once or (one case in five) a byte at a time, slowly. */
export const preAuthCase: fc.Arbitrary<PreAuthCase> = fc
  .tuple(preAuthShape, fc.option(fc.constantFrom(10, 100, 400), { nil: undefined, freq: 4 }))
  .map(([c, trickleMs]) =>
    trickleMs === undefined
      ? c
      : { ...c, what: `${c.what}, a byte every ${trickleMs} ms`, trickleMs },
  );

export interface RawOutcome {
  /** ms from connecting until the relay closed the connection. */
  readonly closedAfterMs: number;
  /** Bytes the relay sent (its version line, KEXINIT, a disconnect message). */
  readonly received: number;
}

/**
 * Connects to 127.0.0.1:`port` from `localAddress`, writes the case's bytes (at once or trickled),
 * half-closes when the case says so, and resolves when the relay has closed the connection.
 * Rejects after `boundMs` (a hang), having destroyed the socket.
 */
export function runRawCase(
  port: number,
  c: PreAuthCase,
  boundMs: number,
  localAddress = '127.0.0.1',
): Promise<RawOutcome> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let received = 0;
    let trickle: NodeJS.Timeout | undefined;
    const sock = connect({ port, host: '127.0.0.1', localAddress, allowHalfOpen: true }, () => {
      if (c.trickleMs === undefined) {
        sock.write(c.bytes);
        if (c.end) sock.end();
        return;
      }
      let at = 0;
      trickle = setInterval(() => {
        if (at < c.bytes.length) sock.write(c.bytes.subarray(at, ++at));
        else {
          clearInterval(trickle);
          if (c.end) sock.end();
        }
      }, c.trickleMs);
    });
    const timer = setTimeout(() => {
      clearInterval(trickle);
      sock.destroy();
      reject(new Error(`relay kept "${c.what}" (${c.bytes.length} bytes) open for ${boundMs} ms`));
    }, boundMs);
    // The relay may reset the connection; what counts is that it closed it.
    sock.on('error', () => {});
    sock.on('data', (d: Buffer) => {
      received += d.length;
    });
    // Its EOF: finish our side too, so 'close' follows.
    sock.on('end', () => sock.end());
    sock.on('close', () => {
      clearTimeout(timer);
      clearInterval(trickle);
      resolve({ closedAfterMs: Date.now() - started, received });
    });
  });
}
