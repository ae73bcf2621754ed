/** Properties of the shim's frame codec and incremental decoder (src/shim/frames*.ts). */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrameDecoder } from '../../src/shim/frame-decoder.js';
import {
  encodeFrame,
  type Frame,
  FrameError,
  MAX_DATA_PAYLOAD,
  MAX_FRAME_LENGTH,
  PREAMBLE_LENGTH,
  REFUSE_CODES,
  SECRET_LENGTH,
  SESSION_ID_LENGTH,
  type StreamId,
} from '../../src/shim/frames.js';
import { joined } from '../helpers/shim-frames.js';
import { type FuzzProperty, thrown } from './property.js';

const SUBJECT = 'shim/frames.ts, shim/frame-decoder.ts';

const stream = fc.constantFrom<StreamId>(0, 1, 2);
const offset = fc.oneof(fc.nat(5000), fc.maxSafeNat());
const u32 = fc.nat({ max: 0xffff_ffff });
/** Well-formed Unicode only: the codec refuses lone surrogates by contract. */
const text = fc.string({ unit: 'grapheme', maxLength: 40 });
const signal = fc.stringMatching(/^SIG[A-Z0-9+]{1,29}$/);
const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((b) => Buffer.from(b));

const hello: fc.Arbitrary<Frame> = fc.record({
  type: fc.constant('hello' as const),
  sessionId: fc
    .uint8Array({ minLength: SESSION_ID_LENGTH, maxLength: SESSION_ID_LENGTH })
    .map(Buffer.from),
  secret: fc.uint8Array({ minLength: SECRET_LENGTH, maxLength: SECRET_LENGTH }).map(Buffer.from),
  mode: fc.oneof(
    fc.record({
      kind: fc.constant('new' as const),
      command: fc.oneof(
        fc.record({ kind: fc.constant('argv' as const), argv: fc.array(text, { maxLength: 6 }) }),
        fc.record({ kind: fc.constant('subsystem' as const), name: text }),
      ),
      options: fc.record({ resumeWindowMs: u32, bufferBytes: u32 }),
    }),
    fc.record({
      kind: fc.constant('resume' as const),
      stdoutReceived: offset,
      stderrReceived: offset,
    }),
  ),
});
const handshake: fc.Arbitrary<Frame> = fc.oneof(
  hello,
  fc.record({
    type: fc.constant('welcome' as const),
    resumed: fc.boolean(),
    stdinReceived: offset,
  }),
  fc.record({
    type: fc.constant('refuse' as const),
    code: fc.constantFrom(...REFUSE_CODES),
    message: text,
  }),
);
const after: fc.Arbitrary<Frame> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      type: fc.constant('data' as const),
      stream,
      offset: fc.nat(5000),
      payload: bytes(300),
    }),
  },
  fc.record({
    type: fc.constant('data' as const),
    stream,
    offset: fc.nat(5000),
    payload: bytes(MAX_DATA_PAYLOAD),
  }),
  fc.record({ type: fc.constantFrom('ack' as const, 'eof' as const), stream, offset }),
  fc.oneof(
    fc.record({ type: fc.constant('exit' as const), code: fc.nat(255), signal: fc.constant(null) }),
    fc.record({ type: fc.constant('exit' as const), code: fc.constant(null), signal }),
  ),
  fc.record({ type: fc.constantFrom('ping' as const, 'pong' as const), nonce: u32 }),
  fc.record({ type: fc.constant('signal' as const), name: signal }),
);
/** A connection's frames in one direction: a handshake frame, then any others. */
const conversation = fc
  .tuple(handshake, fc.array(after, { maxLength: 8 }))
  .map(([h, rest]) => [h, ...rest]);

/** Cut points (sorted, distinct, inside 1..length-1) splitting `length` bytes into chunks. */
function chunksAt(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % buf.length))]
    .filter((c) => c > 0)
    .sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const p of [...points, buf.length]) {
    out.push(buf.subarray(at, p));
    at = p;
  }
  return out;
}

/** The frames as the decoder sees them: data frames cut into their pieces are compared joined. */
function pieces(frames: Frame[]): Frame[] {
  return joined(frames.filter((f) => f.type !== 'data' || f.payload.length > 0)).map(plain);
}

/** A generated value as plain objects (fast-check's records have no prototype). */
function plain<T>(v: T): T {
  if (Buffer.isBuffer(v) || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(plain) as T;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)])) as T;
}

/** Most bytes a decoder may hold between pushes: a preamble, a length and a whole small frame. */
const BOUND = PREAMBLE_LENGTH + 4 + MAX_FRAME_LENGTH;

export const shimFrameProperties: FuzzProperty[] = [
  {
    subject: SUBJECT,
    name: 'valid frames pushed in arbitrary splits decode to exactly the frames pushed whole',
    runs: 200,
    property: () =>
      fc.property(conversation, fc.array(fc.nat(), { maxLength: 30 }), (frames, cuts) => {
        const wire = Buffer.concat(frames.map(encodeFrame));
        const whole = new FrameDecoder().push(wire);
        assert.deepEqual(pieces(whole), pieces(frames));
        const decoder = new FrameDecoder();
        const split: Frame[] = [];
        for (const chunk of chunksAt(wire, cuts)) {
          split.push(...decoder.push(chunk));
          assert.ok(decoder.bufferedBytes < BOUND);
        }
        assert.deepEqual(pieces(split), pieces(frames));
        assert.equal(decoder.bufferedBytes, 0);
      }),
  },
  {
    subject: SUBJECT,
    name: 'garbage, alone or after valid frames, fails with a FrameError only, and for good',
    runs: 300,
    property: () =>
      fc.property(
        fc.array(after, { maxLength: 3 }),
        handshake,
        bytes(600),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.boolean(),
        (frames, first, garbage, cuts, valid) => {
          const head = valid ? Buffer.concat([first, ...frames].map(encodeFrame)) : Buffer.alloc(0);
          const wire = Buffer.concat([head, garbage]);
          if (wire.length === 0) return;
          const decoder = new FrameDecoder();
          let failure: unknown;
          for (const chunk of chunksAt(wire, cuts)) {
            const err = thrown(() => decoder.push(chunk));
            if (failure !== undefined) assert.equal(err, failure, 'a failed decoder keeps failing');
            else if (err !== undefined) failure = err;
            assert.ok(decoder.bufferedBytes < BOUND);
          }
          if (failure !== undefined) assert.ok(failure instanceof FrameError, String(failure));
        },
      ),
  },
  {
    subject: SUBJECT,
    name: 'flipped bits in a valid stream give the frames or a FrameError, never another error',
    runs: 300,
    property: () =>
      fc.property(
        conversation,
        fc.array(fc.tuple(fc.nat(), fc.nat(7)), { minLength: 1, maxLength: 4 }),
        (frames, flips) => {
          const wire = Buffer.concat(frames.map(encodeFrame));
          for (const [at, bit] of flips) {
            const i = at % wire.length;
            wire[i] = wire[i]! ^ (1 << bit);
          }
          const err = thrown(() => new FrameDecoder().push(wire));
          if (err !== undefined) assert.ok(err instanceof FrameError, String(err));
        },
      ),
  },
];
