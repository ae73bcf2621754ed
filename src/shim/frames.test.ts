import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { prng, randInt } from '../../test/helpers/prng.js';
import { joined } from '../../test/helpers/shim-frames.js';
import { FrameDecoder } from './frame-decoder.js';
import {
  encodeFrame,
  type Frame,
  FrameError,
  type FrameErrorCode,
  MAX_DATA_PAYLOAD,
  MAX_FRAME_LENGTH,
  PREAMBLE_LENGTH,
  PROTOCOL_VERSION,
  REFUSE_CODES,
  SECRET_LENGTH,
  SESSION_ID_LENGTH,
  SNIFF_LENGTH,
  Stream,
} from './frames.js';
import { SECRET_BYTES, SESSION_ID_BYTES } from './session-dir.js';

const randBytes = (rand: () => number, n: number) =>
  Buffer.from(Array.from({ length: n }, () => randInt(rand, 256)));

const ID = Buffer.alloc(SESSION_ID_LENGTH, 0xab);
const SECRET = Buffer.alloc(SECRET_LENGTH, 0xcd);
const WELCOME: Frame = { type: 'welcome', resumed: false, stdinReceived: 0 };
const OPTIONS = { resumeWindowMs: 600_000, bufferBytes: 4 << 20 };
const BIG = 2 ** 32 + 7;
const MAX = Number.MAX_SAFE_INTEGER;

/** Decodes bytes pushed as the given chunks, through one decoder; split payloads joined. */
function decode(chunks: Buffer[]): Frame[] {
  const decoder = new FrameDecoder();
  return joined(chunks.flatMap((chunk) => decoder.push(chunk)));
}

/** Bytes of a raw frame: u32 length + type + body, with no checks. */
function raw(type: number, body: number[] | Buffer = []): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(1 + body.length);
  head[4] = type;
  return Buffer.concat([head, Buffer.from(body)]);
}
function preamble(version = PROTOCOL_VERSION): Buffer {
  const b = encodeFrame(WELCOME).subarray(0, PREAMBLE_LENGTH);
  const out = Buffer.from(b);
  out.writeUInt16BE(version, PREAMBLE_LENGTH - 2);
  return out;
}
const u64 = (v: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(v);
  return [...b];
};
const str = (s: Buffer | string) => {
  const b = Buffer.from(s);
  return [...Buffer.from([0, 0, 0, b.length]), ...b];
};
const afterWelcome = (...frames: Buffer[]) => Buffer.concat([encodeFrame(WELCOME), ...frames]);

const SAMPLES: [string, Frame][] = [
  [
    'hello new rsync argv',
    {
      type: 'hello',
      sessionId: ID,
      secret: SECRET,
      mode: {
        kind: 'new',
        command: { kind: 'argv', argv: ['rsync', '--server', '-vlogDtpre.iLsfxCIvu', '.', 'd/'] },
        options: OPTIONS,
      },
    },
  ],
  [
    'hello new argv with unicode, empty words, a BOM, newlines',
    {
      type: 'hello',
      sessionId: ID,
      secret: SECRET,
      mode: {
        kind: 'new',
        command: { kind: 'argv', argv: ['', 'ünïcødé 🦡', '\uFEFFbom', 'a\nb\0c'] },
        options: { resumeWindowMs: 0, bufferBytes: 0xffff_ffff },
      },
    },
  ],
  [
    'hello new with no argv words',
    {
      type: 'hello',
      sessionId: ID,
      secret: SECRET,
      mode: { kind: 'new', command: { kind: 'argv', argv: [] }, options: OPTIONS },
    },
  ],
  [
    'hello new sftp subsystem',
    {
      type: 'hello',
      sessionId: ID,
      secret: SECRET,
      mode: { kind: 'new', command: { kind: 'subsystem', name: 'sftp' }, options: OPTIONS },
    },
  ],
  [
    'hello resume at zero',
    {
      type: 'hello',
      sessionId: ID,
      secret: SECRET,
      mode: { kind: 'resume', stdoutReceived: 0, stderrReceived: 0 },
    },
  ],
  [
    'hello resume past 4 GiB',
    {
      type: 'hello',
      sessionId: ID,
      secret: SECRET,
      mode: { kind: 'resume', stdoutReceived: BIG, stderrReceived: MAX },
    },
  ],
  ['welcome new', WELCOME],
  ['welcome resumed past 4 GiB', { type: 'welcome', resumed: true, stdinReceived: 2 ** 40 + 3 }],
  ...REFUSE_CODES.map((code): [string, Frame] => [
    `refuse ${code}`,
    { type: 'refuse', code, message: `no: ${code} — ünïcødé` },
  ]),
  ['refuse with empty message', { type: 'refuse', code: 'internal', message: '' }],
  ['data stdin empty', { type: 'data', stream: Stream.stdin, offset: 0, payload: Buffer.alloc(0) }],
  ['data stdout 1 byte', { type: 'data', stream: Stream.stdout, offset: 1, payload: Buffer.of(0) }],
  [
    'data stderr full payload past 4 GiB',
    {
      type: 'data',
      stream: Stream.stderr,
      offset: BIG,
      payload: Buffer.alloc(MAX_DATA_PAYLOAD, 7),
    },
  ],
  ['data at 2^53-1', { type: 'data', stream: 1, offset: MAX, payload: Buffer.from('x') }],
  ['ack stdin 0', { type: 'ack', stream: 0, offset: 0 }],
  ['ack stdout past 4 GiB', { type: 'ack', stream: 1, offset: BIG }],
  ['ack stderr 2^53-1', { type: 'ack', stream: 2, offset: MAX }],
  ['eof stdin', { type: 'eof', stream: 0, offset: 12345 }],
  ['eof stdout past 4 GiB', { type: 'eof', stream: 1, offset: BIG }],
  ['exit 0', { type: 'exit', code: 0, signal: null }],
  ['exit 255', { type: 'exit', code: 255, signal: null }],
  ['exit by SIGTERM', { type: 'exit', code: null, signal: 'SIGTERM' }],
  ['exit by SIGRTMIN+3', { type: 'exit', code: null, signal: 'SIGRTMIN+3' }],
  ['ping 0', { type: 'ping', nonce: 0 }],
  ['ping max', { type: 'ping', nonce: 0xffff_ffff }],
  ['pong', { type: 'pong', nonce: 123_456 }],
  ['signal SIGINT', { type: 'signal', name: 'SIGINT' }],
];

const isHandshake = (f: Frame) => f.type === 'hello' || f.type === 'welcome' || f.type === 'refuse';

describe('encodeFrame / FrameDecoder round trip', () => {
  for (const [name, frame] of SAMPLES) {
    it(name, () => {
      const bytes = encodeFrame(frame);
      if (isHandshake(frame)) {
        assert.deepEqual(decode([bytes]), [frame]);
      } else {
        assert.deepEqual(decode([encodeFrame(WELCOME), bytes]), [WELCOME, frame]);
      }
    });
  }

  it('a full data frame is exactly MAX_FRAME_LENGTH long', () => {
    const frame = SAMPLES.find(([n]) => n.startsWith('data stderr full'))![1];
    assert.equal(encodeFrame(frame).length, 4 + MAX_FRAME_LENGTH);
  });
});

describe('wire layout (pinned bytes)', () => {
  const cases: [string, Frame, string][] = [
    ['ping', { type: 'ping', nonce: 0x01020304 }, '00000005 08 01020304'],
    [
      'ack past 4 GiB',
      { type: 'ack', stream: 1, offset: 2 ** 32 + 1 },
      '0000000a 05 01 0000000100000001',
    ],
    [
      'data',
      { type: 'data', stream: 2, offset: 3, payload: Buffer.from('hi') },
      '0000000c 04 02 0000000000000003 6869',
    ],
    ['exit code', { type: 'exit', code: 2, signal: null }, '00000006 07 02 00000000'],
    [
      'exit signal',
      { type: 'exit', code: null, signal: 'SIGHUP' },
      '0000000c 07 00 00000006 534947485550',
    ],
    [
      'welcome',
      { type: 'welcome', resumed: true, stdinReceived: 42 },
      '89627368 0d0a1a0a 0001 0000000a 02 01 000000000000002a',
    ],
    [
      'refuse',
      { type: 'refuse', code: 'bad-secret', message: 'no' },
      '89627368 0d0a1a0a 0001 00000008 03 03 00000002 6e6f',
    ],
  ];
  for (const [name, frame, hex] of cases) {
    it(name, () => assert.equal(encodeFrame(frame).toString('hex'), hex.replaceAll(' ', '')));
  }
});

describe('FrameDecoder chunking', () => {
  // A hello, then every sample that may follow it except the 64 KiB one (kept out for speed).
  const want = [
    SAMPLES[0]![1],
    ...SAMPLES.map(([, f]) => f).filter(
      (f) => !isHandshake(f) && !(f.type === 'data' && f.payload.length > 100),
    ),
  ];
  const stream = Buffer.concat(want.map(encodeFrame));
  const expected = joined(want);

  it('the sample stream decodes in one chunk, each frame whole', () => {
    assert.deepEqual(new FrameDecoder().push(stream), want);
  });

  it('decodes the same when split into two at every byte boundary', () => {
    for (let i = 0; i <= stream.length; i++) {
      const parts = [stream.subarray(0, i), stream.subarray(i)];
      assert.deepEqual(decode(parts), expected, `split at ${i}`);
    }
  });

  it('decodes the same when split into three at every pair of boundaries (first 120 bytes)', () => {
    for (let i = 0; i <= 120; i++) {
      for (let j = i; j <= 120; j++) {
        const parts = [stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)];
        assert.deepEqual(decode(parts), expected, `split at ${i}, ${j}`);
      }
    }
  });

  it('decodes the same fed one byte at a time', () => {
    const bytes = [...stream].map((b) => Buffer.of(b));
    assert.deepEqual(decode(bytes), expected);
  });

  it('returns a split payload as pieces of the chunks, with the offset of each first byte', () => {
    const payload = Buffer.from('abcdefghij');
    const bytes = afterWelcome(encodeFrame({ type: 'data', stream: 2, offset: 100, payload }));
    const cut = bytes.length - 6;
    const decoder = new FrameDecoder();
    const first = bytes.subarray(0, cut);
    const second = Buffer.from(bytes.subarray(cut));
    const got = [...decoder.push(first), ...decoder.push(second)];
    assert.deepEqual(got, [
      WELCOME,
      { type: 'data', stream: 2, offset: 100, payload: Buffer.from('abcd') },
      { type: 'data', stream: 2, offset: 104, payload: Buffer.from('efghij') },
    ]);
    const last = got[2] as { payload: Buffer };
    assert.equal(last.payload.buffer, second.buffer, 'a view of the pushed chunk, not a copy');
  });

  it('a full-size frame fed one byte at a time holds no more than its header', () => {
    const data: Frame = {
      type: 'data',
      stream: 1,
      offset: 9,
      payload: Buffer.alloc(MAX_DATA_PAYLOAD, 1),
    };
    const bytes = afterWelcome(encodeFrame(data));
    const decoder = new FrameDecoder();
    const got: Frame[] = [];
    let most = 0;
    for (let i = 0; i < bytes.length; i++) {
      got.push(...decoder.push(bytes.subarray(i, i + 1)));
      most = Math.max(most, decoder.bufferedBytes);
    }
    assert.deepEqual(joined(got), [WELCOME, data]);
    assert.equal(got.length, 1 + MAX_DATA_PAYLOAD, 'the welcome, then one piece per byte');
    assert.equal(most, 9, 'at most 9 bytes of a 10-byte preamble or head: never a payload');
    assert.equal(decoder.bufferedBytes, 0);
  });

  it('many frames in one chunk, in order', () => {
    const acks: Frame[] = Array.from({ length: 10_000 }, (_, i) => ({
      type: 'ack',
      stream: (i % 3) as 0 | 1 | 2,
      offset: i * 1000,
    }));
    assert.deepEqual(decode([afterWelcome(...acks.map(encodeFrame))]), [WELCOME, ...acks]);
  });

  it('holds nothing of a large chunk that ends inside a payload, a few bytes inside a header', () => {
    const data = encodeFrame({ type: 'data', stream: 1, offset: 0, payload: Buffer.alloc(1000) });
    const decoder = new FrameDecoder();
    const frames = decoder.push(afterWelcome(...Array(100).fill(data), data.subarray(0, 500)));
    assert.equal(frames.length, 102, 'the welcome, 100 frames and the first 486 payload bytes');
    assert.equal((frames[101] as { payload: Buffer }).payload.length, 500 - 14);
    assert.equal(decoder.bufferedBytes, 0);
    assert.equal(decoder.push(data.subarray(500)).length, 1);
    assert.equal(decoder.push(data.subarray(0, 9)).length, 0);
    assert.equal(decoder.bufferedBytes, 5, 'the length is read; 5 bytes of the head are held');
    assert.equal(decoder.push(data.subarray(9)).length, 1);
    assert.equal(decoder.bufferedBytes, 0);
  });

  it('an empty push returns nothing and changes nothing', () => {
    const decoder = new FrameDecoder();
    assert.deepEqual(decoder.push(Buffer.alloc(0)), []);
    assert.deepEqual(decoder.push(encodeFrame(WELCOME)), [WELCOME]);
    assert.deepEqual(decoder.push(Buffer.alloc(0)), []);
  });
});

describe('FrameDecoder on hostile input', () => {
  const cases: [string, Buffer[], FrameErrorCode][] = [
    [
      'a login banner',
      [Buffer.from('Last login: Mon Jan  1 00:00:00 2024 from 10.0.0.1\n')],
      'bad-magic',
    ],
    [
      '"command not found" from the remote shell',
      [Buffer.from('bash: line 1: burrow: command not found\n')],
      'bad-magic',
    ],
    ['one wrong byte', [Buffer.from('W')], 'bad-magic'],
    [
      'the magic mangled by CRLF translation',
      [Buffer.from([0x89, 0x62, 0x73, 0x68, 0x0d, 0x0d, 0x0a])],
      'bad-magic',
    ],
    ['the magic with its high bit stripped', [Buffer.from([0x09, 0x62, 0x73, 0x68])], 'bad-magic'],
    ['a valid frame with no preamble', [encodeFrame({ type: 'ping', nonce: 1 })], 'bad-magic'],
    ['a newer protocol version', [preamble(2)], 'bad-version'],
    [
      'protocol version 0xffff, split',
      [preamble(0xffff).subarray(0, 9), preamble(0xffff).subarray(9)],
      'bad-version',
    ],
    ['a data frame first', [preamble(), raw(4, [1, ...u64(0n)])], 'malformed'],
    ['a second handshake frame', [afterWelcome(encodeFrame(WELCOME))], 'malformed'],
    [
      'a length over the maximum, only its 4 bytes',
      [afterWelcome(Buffer.from([0, 1, 0, 11]))],
      'too-large',
    ],
    ['length 0xffffffff', [afterWelcome(Buffer.from([0xff, 0xff, 0xff, 0xff]))], 'too-large'],
    ['an empty frame', [afterWelcome(Buffer.from([0, 0, 0, 0]))], 'malformed'],
    ['type 0', [afterWelcome(raw(0))], 'unknown-type'],
    ['type 11', [afterWelcome(raw(11, [1, 2]))], 'unknown-type'],
    ['type 255 as the first frame', [preamble(), raw(255)], 'unknown-type'],
    ['an ack cut short', [afterWelcome(raw(5, [1, 0, 0, 0]))], 'malformed'],
    ['a ping with a trailing byte', [afterWelcome(raw(8, [0, 0, 0, 1, 9]))], 'malformed'],
    ['stream id 3', [afterWelcome(raw(5, [3, ...u64(0n)]))], 'malformed'],
    ['an offset of 2^53', [afterWelcome(raw(6, [1, ...u64(2n ** 53n)]))], 'malformed'],
    ['an offset of 2^64-1', [afterWelcome(raw(4, [1, ...u64(2n ** 64n - 1n), 7]))], 'malformed'],
    ['data on stream id 3', [afterWelcome(raw(4, [3, ...u64(0n), 7]))], 'malformed'],
    ['data at offset 2^53', [afterWelcome(raw(4, [1, ...u64(2n ** 53n), 7]))], 'malformed'],
    ['data as the first frame', [preamble(), raw(4, [1, ...u64(0n), 7])], 'malformed'],
    [
      'a payload running past 2^53-1',
      [afterWelcome(raw(4, [1, ...u64(2n ** 53n - 2n), 7, 8, 9]))],
      'malformed',
    ],
    ['refuse code 0', [preamble(), raw(3, [0, ...str('x')])], 'malformed'],
    ['refuse code 7', [preamble(), raw(3, [7, ...str('x')])], 'malformed'],
    [
      'refuse with invalid UTF-8',
      [preamble(), raw(3, [1, ...str(Buffer.from([0xc3, 0x28]))])],
      'malformed',
    ],
    ['a string longer than its frame', [preamble(), raw(3, [1, 0, 0, 0, 200, 65])], 'malformed'],
    ['welcome resumed flag 2', [preamble(), raw(2, [2, ...u64(0n)])], 'malformed'],
    ['hello mode 2', [preamble(), raw(1, [...ID, ...SECRET, 2])], 'malformed'],
    [
      'hello command kind 2',
      [preamble(), raw(1, [...ID, ...SECRET, 0, 2, 0, 0, 0, 0])],
      'malformed',
    ],
    [
      'hello subsystem of two words',
      [
        preamble(),
        raw(1, [
          ...ID,
          ...SECRET,
          0,
          1,
          0,
          0,
          0,
          2,
          ...str('a'),
          ...str('b'),
          0,
          0,
          0,
          0,
          0,
          0,
          0,
          0,
        ]),
      ],
      'malformed',
    ],
    [
      'hello claiming 2^32-1 argv words',
      [preamble(), raw(1, [...ID, ...SECRET, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0])],
      'malformed',
    ],
    ['hello cut inside the secret', [preamble(), raw(1, [...ID, 1, 2, 3])], 'malformed'],
    ['exit with code and signal', [afterWelcome(raw(7, [3, ...str('SIGTERM')]))], 'malformed'],
    ['exit with a bad signal name', [afterWelcome(raw(7, [0, ...str('TERM')]))], 'malformed'],
  ];
  for (const [name, chunks, code] of cases) {
    it(`${name}: ${code}`, () => {
      const decoder = new FrameDecoder();
      let err: unknown;
      for (const chunk of chunks) {
        try {
          decoder.push(chunk);
        } catch (e) {
          err = e;
          break;
        }
      }
      assert.ok(err instanceof FrameError, `expected a FrameError, got ${err}`);
      assert.equal(err.code, code, err.message);
      // Sticky: the decoder stays failed with the same error.
      assert.throws(
        () => decoder.push(encodeFrame(WELCOME)),
        (e) => e === err,
      );
    });
  }

  it('bad-magic names the first bytes seen, at the first wrong byte', () => {
    const decoder = new FrameDecoder();
    const text = 'bash: burrow: command not found\n';
    const err = (() => {
      try {
        decoder.push(Buffer.from(text));
      } catch (e) {
        return e as FrameError;
      }
    })();
    assert.equal(err?.code, 'bad-magic');
    assert.deepEqual(err.firstBytes, Buffer.from(text));
    assert.deepEqual(decoder.firstBytes, Buffer.from(text));
    assert.match(err.message, /bash: burrow: command not found\\n/);
  });

  it('bad-magic keeps at most SNIFF_LENGTH bytes, from across pushes', () => {
    const decoder = new FrameDecoder();
    decoder.push(Buffer.from([0x89, 0x62]));
    const err = (() => {
      try {
        decoder.push(Buffer.alloc(1000, 0x41));
      } catch (e) {
        return e as FrameError;
      }
    })();
    assert.equal(err?.code, 'bad-magic');
    assert.equal(err.firstBytes?.length, SNIFF_LENGTH);
    assert.deepEqual(err.firstBytes?.subarray(0, 3), Buffer.from([0x89, 0x62, 0x41]));
  });

  it('bad-version reports the peer version', () => {
    assert.throws(
      () => decode([preamble(7)]),
      (e) => e instanceof FrameError && e.peerVersion === 7 && /protocol 7;/.test(e.message),
    );
  });

  it('a partial preamble is not an error yet', () => {
    assert.deepEqual(decode([preamble().subarray(0, 9)]), []);
  });
});

describe('encodeFrame refuses invalid frames', () => {
  const hello = (mode: object) => ({ type: 'hello', sessionId: ID, secret: SECRET, mode }) as Frame;
  const newMode = (argv: string[], options = OPTIONS) => ({
    kind: 'new',
    command: { kind: 'argv', argv },
    options,
  });
  const cases: [string, Frame, FrameErrorCode][] = [
    [
      'a payload over the maximum',
      { type: 'data', stream: 0, offset: 0, payload: Buffer.alloc(MAX_DATA_PAYLOAD + 1) },
      'too-large',
    ],
    ['a hello over the maximum', hello(newMode(['x'.repeat(MAX_FRAME_LENGTH)])), 'too-large'],
    ['stream id 3', { type: 'ack', stream: 3 as 0, offset: 0 }, 'malformed'],
    ['a negative offset', { type: 'ack', stream: 0, offset: -1 }, 'malformed'],
    ['a fractional offset', { type: 'eof', stream: 0, offset: 1.5 }, 'malformed'],
    [
      'an offset of 2^53',
      { type: 'data', stream: 0, offset: 2 ** 53, payload: Buffer.alloc(1) },
      'malformed',
    ],
    [
      'a short session id',
      {
        type: 'hello',
        sessionId: Buffer.alloc(15),
        secret: SECRET,
        mode: { kind: 'resume', stdoutReceived: 0, stderrReceived: 0 },
      },
      'malformed',
    ],
    [
      'a short secret',
      {
        type: 'hello',
        sessionId: ID,
        secret: Buffer.alloc(31),
        mode: { kind: 'resume', stdoutReceived: 0, stderrReceived: 0 },
      },
      'malformed',
    ],
    ['a lone surrogate in argv', hello(newMode(['\uD800'])), 'malformed'],
    [
      'a negative resume window',
      hello(newMode(['x'], { ...OPTIONS, resumeWindowMs: -1 })),
      'malformed',
    ],
    [
      'a resume offset of NaN',
      hello({ kind: 'resume', stdoutReceived: Number.NaN, stderrReceived: 0 }),
      'malformed',
    ],
    ['an unknown mode', hello({ kind: 'attach' }), 'malformed'],
    ['exit with neither', { type: 'exit', code: null, signal: null }, 'malformed'],
    ['exit with both', { type: 'exit', code: 1, signal: 'SIGTERM' }, 'malformed'],
    ['exit code 256', { type: 'exit', code: 256, signal: null }, 'malformed'],
    ['signal "kill"', { type: 'exit', code: null, signal: 'kill' }, 'malformed'],
    [
      'an unknown refuse code',
      { type: 'refuse', code: 'nope' as 'internal', message: '' },
      'malformed',
    ],
    ['nonce 2^32', { type: 'pong', nonce: 2 ** 32 }, 'malformed'],
    ['signal "int"', { type: 'signal', name: 'int' }, 'malformed'],
    ['an unknown type', { type: 'bogus' } as unknown as Frame, 'unknown-type'],
  ];
  for (const [name, frame, code] of cases) {
    it(`${name}: ${code}`, () => {
      assert.throws(
        () => encodeFrame(frame),
        (e) => e instanceof FrameError && e.code === code,
      );
    });
  }
});

describe('FrameDecoder fuzz (seeded)', () => {
  const bound = PREAMBLE_LENGTH + 4 + MAX_FRAME_LENGTH;

  /** Pushes bytes in random chunks; only FrameError may escape, and memory stays bounded. */
  function feed(rand: () => number, bytes: Buffer): { frames: Frame[]; error?: FrameError } {
    const decoder = new FrameDecoder();
    const frames: Frame[] = [];
    for (let pos = 0; pos < bytes.length; ) {
      const n = 1 + randInt(rand, 64);
      try {
        frames.push(...decoder.push(bytes.subarray(pos, pos + n)));
      } catch (err) {
        if (!(err instanceof FrameError)) throw err;
        return { frames, error: err };
      }
      assert.ok(decoder.bufferedBytes < bound);
      pos += n;
    }
    return { frames };
  }

  function randomFrame(rand: () => number): Frame {
    const stream = randInt(rand, 3) as 0 | 1 | 2;
    const offset = randInt(rand, 2) ? randInt(rand, 1000) : randInt(rand, MAX);
    switch (randInt(rand, 6)) {
      case 0:
        return { type: 'data', stream, offset, payload: randBytes(rand, randInt(rand, 300)) };
      case 1:
        return { type: 'ack', stream, offset };
      case 2:
        return { type: 'eof', stream, offset };
      case 3:
        return randInt(rand, 2)
          ? { type: 'exit', code: randInt(rand, 256), signal: null }
          : { type: 'exit', code: null, signal: 'SIGINT' };
      case 4:
        return { type: 'ping', nonce: randInt(rand, 2 ** 32) };
      default:
        return { type: 'pong', nonce: randInt(rand, 2 ** 32) };
    }
  }

  it('random garbage from the first byte: 3000 runs', () => {
    const rand = prng(1);
    for (let run = 0; run < 3000; run++) {
      const { frames, error } = feed(rand, randBytes(rand, randInt(rand, 300)));
      assert.equal(frames.length, 0);
      if (error)
        assert.ok(
          ['bad-magic', 'bad-version', 'too-large', 'unknown-type', 'malformed'].includes(
            error.code,
          ),
        );
    }
  });

  it('random garbage after a valid handshake: 3000 runs', () => {
    const rand = prng(2);
    for (let run = 0; run < 3000; run++) {
      feed(rand, afterWelcome(randBytes(rand, randInt(rand, 300))));
    }
  });

  it('random valid streams decode exactly; mutated ones fail cleanly: 3000 runs', () => {
    const rand = prng(3);
    let failures = 0;
    for (let run = 0; run < 3000; run++) {
      const frames = Array.from({ length: 1 + randInt(rand, 8) }, () => randomFrame(rand));
      const bytes = afterWelcome(...frames.map(encodeFrame));
      const fed = feed(rand, bytes);
      assert.deepEqual(
        { ...fed, frames: joined(fed.frames) },
        { frames: joined([WELCOME, ...frames]) },
      );
      for (let flips = 1 + randInt(rand, 3); flips > 0; flips--) {
        const at = randInt(rand, bytes.length);
        bytes[at] = bytes[at]! ^ (1 << randInt(rand, 8));
      }
      if (feed(rand, bytes).error) failures++;
    }
    assert.ok(failures > 300, `mutations detected only ${failures} times`);
  });
});

describe('constants', () => {
  it('session id and secret sizes match the session directory', () => {
    assert.equal(SESSION_ID_LENGTH, SESSION_ID_BYTES);
    assert.equal(SECRET_LENGTH, SECRET_BYTES);
  });
});
