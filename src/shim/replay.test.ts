import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { prng, randInt } from '../../test/helpers/prng.js';
import { FrameDecoder } from './frame-decoder.js';
import { encodeFrame, type Frame, MAX_DATA_PAYLOAD } from './frames.js';
import { ReceiveCounter, ReplayBuffer, ReplayError, type ReplayErrorCode } from './replay.js';

const isReplayError = (code: ReplayErrorCode) => (e: unknown) =>
  e instanceof ReplayError && e.code === code;
const CODES = new Set<unknown>([
  'over-capacity',
  'ack-out-of-range',
  'resume-out-of-range',
  'bad-offset',
  'gap',
  'after-eof',
  'eof-mismatch',
  'over-delivery',
] satisfies ReplayErrorCode[]);

/** The stream a test sends: byte i is ALPHABET[i % 26], so any slice is easy to read. */
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz';
const text = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => ALPHABET[(from + i) % 26]).join('');

describe('ReplayBuffer accounting', () => {
  type Op = ['append', count: number] | ['ack', offset: number] | ['unacked', from: number];
  type State = { sent: number; acked: number; space: number };
  /** After each op: the state, or the error it throws; for unacked, the bytes or the error. */
  const cases: [string, number, [Op, State | ReplayErrorCode | string][]][] = [
    [
      'appends and acks whole chunks',
      10,
      [
        [['append', 3], { sent: 3, acked: 0, space: 7 }],
        [['append', 4], { sent: 7, acked: 0, space: 3 }],
        [['ack', 3], { sent: 7, acked: 3, space: 6 }],
        [['ack', 3], { sent: 7, acked: 3, space: 6 }],
        [['ack', 7], { sent: 7, acked: 7, space: 10 }],
        [['append', 10], { sent: 17, acked: 7, space: 0 }],
      ],
    ],
    [
      'refuses an append over capacity and records nothing',
      5,
      [
        [['append', 5], { sent: 5, acked: 0, space: 0 }],
        [['append', 1], 'over-capacity'],
        [['ack', 2], { sent: 5, acked: 2, space: 2 }],
        [['append', 3], 'over-capacity'],
        [['append', 2], { sent: 7, acked: 2, space: 0 }],
        [['unacked', 2], 'cdefg'],
      ],
    ],
    [
      'a zero-length append changes nothing, even when full',
      2,
      [
        [['append', 2], { sent: 2, acked: 0, space: 0 }],
        [['append', 0], { sent: 2, acked: 0, space: 0 }],
        [['unacked', 0], 'ab'],
      ],
    ],
    [
      'unacked after partial acks, inside a chunk',
      20,
      [
        [['append', 6], { sent: 6, acked: 0, space: 14 }],
        [['append', 4], { sent: 10, acked: 0, space: 10 }],
        [['ack', 2], { sent: 10, acked: 2, space: 12 }],
        [['unacked', 2], 'cdefghij'],
        [['unacked', 4], 'efghij'],
        [['unacked', 6], 'ghij'],
        [['unacked', 8], 'ij'],
        [['unacked', 10], ''],
        [['ack', 7], { sent: 10, acked: 7, space: 17 }],
        [['unacked', 7], 'hij'],
        [['unacked', 9], 'j'],
      ],
    ],
    [
      'acks out of range',
      10,
      [
        [['append', 5], { sent: 5, acked: 0, space: 5 }],
        [['ack', 6], 'ack-out-of-range'],
        [['ack', 3], { sent: 5, acked: 3, space: 8 }],
        [['ack', 2], 'ack-out-of-range'],
        [['ack', -1], 'ack-out-of-range'],
        [['ack', 3.5], 'ack-out-of-range'],
        [['ack', Number.NaN], 'ack-out-of-range'],
        [['ack', 5], { sent: 5, acked: 5, space: 10 }],
      ],
    ],
    [
      'resume offsets out of range',
      10,
      [
        [['append', 5], { sent: 5, acked: 0, space: 5 }],
        [['ack', 2], { sent: 5, acked: 2, space: 7 }],
        [['unacked', 1], 'resume-out-of-range'],
        [['unacked', 6], 'resume-out-of-range'],
        [['unacked', Number.NaN], 'resume-out-of-range'],
        [['unacked', 2], 'cde'],
        [['unacked', 5], ''],
      ],
    ],
  ];
  for (const [name, capacity, steps] of cases) {
    it(name, () => {
      const buf = new ReplayBuffer(capacity);
      for (const [i, [op, want]] of steps.entries()) {
        const at = `step ${i}: ${op.join(' ')}`;
        const before = { sent: buf.sent, acked: buf.acked, space: buf.space };
        if (CODES.has(want)) {
          const run = () => {
            if (op[0] === 'append') buf.append(Buffer.from(text(buf.sent, buf.sent + op[1])));
            else if (op[0] === 'ack') buf.ack(op[1]);
            else buf.unacked(op[1]);
          };
          assert.throws(run, isReplayError(want as ReplayErrorCode), at);
          assert.deepEqual({ sent: buf.sent, acked: buf.acked, space: buf.space }, before, at);
        } else if (op[0] === 'unacked') {
          assert.equal(Buffer.concat(buf.unacked(op[1])).toString(), want, at);
        } else {
          if (op[0] === 'append') buf.append(Buffer.from(text(buf.sent, buf.sent + op[1])));
          else buf.ack(op[1]);
          assert.deepEqual({ sent: buf.sent, acked: buf.acked, space: buf.space }, want, at);
          assert.equal(buf.unackedBytes, buf.sent - buf.acked);
        }
      }
    });
  }

  it('returns views of the appended chunks, as appended, without copying', () => {
    const buf = new ReplayBuffer(100);
    const a = Buffer.from('hello ');
    const b = Buffer.from('world');
    buf.append(a);
    buf.append(b);
    buf.ack(2);
    const [first, second] = buf.unacked(3);
    assert.equal(first?.toString(), 'lo ');
    assert.equal(first?.buffer, a.buffer);
    assert.equal(first?.byteOffset, a.byteOffset + 3);
    assert.equal(second, b);
  });

  it('counts past 4 GiB (views of one chunk, acked as they go)', () => {
    const chunk = Buffer.alloc(1 << 20, 1);
    const buf = new ReplayBuffer(4 << 20);
    for (let i = 0; i < 4097; i++) {
      buf.append(chunk);
      if (i >= 2) buf.ack(buf.sent - 2 * chunk.length - 7);
    }
    assert.equal(buf.sent, 4097 * 2 ** 20);
    assert.ok(buf.sent > 2 ** 32);
    const rest = buf.unacked(buf.acked + 3);
    assert.equal(Buffer.concat(rest).length, 2 * chunk.length + 4);
  });

  it('stays linear with very many tiny chunks', () => {
    const buf = new ReplayBuffer(1 << 20);
    const one = Buffer.of(1);
    for (let i = 0; i < 200_000; i++) {
      buf.append(one);
      if (i % 3 === 0) buf.ack(buf.sent - 1);
    }
    assert.equal(Buffer.concat(buf.unacked(buf.acked)).length, buf.sent - buf.acked);
  });

  it('refuses a capacity that is not a positive integer', () => {
    for (const capacity of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => new ReplayBuffer(capacity), RangeError, String(capacity));
    }
  });
});

describe('ReceiveCounter', () => {
  type Op =
    | ['accept', offset: number, payload: string, want: string | ReplayErrorCode]
    | ['eof', offset: number, want: boolean | ReplayErrorCode]
    | ['deliver', count: number, want: true | ReplayErrorCode];
  const cases: [string, Op[], { received: number; delivered: number; ended: boolean }][] = [
    [
      'in-order data is all new',
      [
        ['accept', 0, 'abc', 'abc'],
        ['accept', 3, 'de', 'de'],
        ['deliver', 4, true],
      ],
      { received: 5, delivered: 4, ended: false },
    ],
    [
      'a resend drops what was already received: duplicates and overlaps',
      [
        ['accept', 0, 'abcd', 'abcd'],
        ['accept', 0, 'abcd', ''],
        ['accept', 1, 'bc', ''],
        ['accept', 2, 'cdef', 'ef'],
        ['accept', 6, '', ''],
        ['accept', 3, 'd', ''],
      ],
      { received: 6, delivered: 0, ended: false },
    ],
    [
      'a gap is an error and changes nothing',
      [
        ['accept', 0, 'ab', 'ab'],
        ['accept', 3, 'd', 'gap'],
        ['accept', 2, 'c', 'c'],
      ],
      { received: 3, delivered: 0, ended: false },
    ],
    [
      'eof at the received offset, then repeated after a resend',
      [
        ['accept', 0, 'abc', 'abc'],
        ['eof', 4, 'gap'],
        ['eof', 2, 'eof-mismatch'],
        ['eof', 3, true],
        ['accept', 1, 'bc', ''],
        ['eof', 3, false],
        ['accept', 2, 'cd', 'after-eof'],
        ['accept', 3, 'x', 'after-eof'],
      ],
      { received: 3, delivered: 0, ended: true },
    ],
    ['an empty stream ends at 0', [['eof', 0, true]], { received: 0, delivered: 0, ended: true }],
    [
      'delivery never passes what was received',
      [
        ['accept', 0, 'abc', 'abc'],
        ['deliver', 4, 'over-delivery'],
        ['deliver', 2, true],
        ['deliver', 2, 'over-delivery'],
        ['deliver', -1, 'over-delivery'],
        ['deliver', 1, true],
        ['deliver', 0, true],
      ],
      { received: 3, delivered: 3, ended: false },
    ],
    [
      'offsets that are not offsets',
      [
        ['accept', -1, 'a', 'bad-offset'],
        ['accept', 0.5, 'a', 'bad-offset'],
        ['eof', Number.NaN, 'bad-offset'],
      ],
      { received: 0, delivered: 0, ended: false },
    ],
  ];
  for (const [name, ops, end] of cases) {
    it(name, () => {
      const rc = new ReceiveCounter();
      for (const [i, op] of ops.entries()) {
        const at = `op ${i}: ${op.join(' ')}`;
        const want = op[op.length - 1];
        const run = (): unknown => {
          if (op[0] === 'accept') return rc.accept(op[1], Buffer.from(op[2])).toString();
          if (op[0] === 'eof') return rc.eof(op[1]);
          rc.deliver(op[1]);
          return true;
        };
        if (CODES.has(want)) {
          assert.throws(run, isReplayError(want as ReplayErrorCode), at);
        } else {
          assert.equal(run(), want, at);
        }
      }
      assert.deepEqual({ received: rc.received, delivered: rc.delivered, ended: rc.ended }, end);
    });
  }
});

/**
 * One stream (remote stdout → local) over a simulated channel that breaks at random: every byte
 * in flight either way is lost, including half-decoded frames, and the local side reattaches with
 * a resume hello. Frames go through the real codec. The local acks what it has delivered and
 * resumes from `received`, or (to exercise duplicate dropping) sometimes from the staler
 * `delivered`. Returns what came out, and the most bytes ever held undelivered.
 */
function simulate(seed: number, withoutReack = false) {
  const rand = prng(seed);
  const total = randInt(rand, 20_000);
  const capacity = 16 + randInt(rand, 8192);
  const maxChunk = 1 + randInt(rand, Math.min(capacity, MAX_DATA_PAYLOAD));
  const breakRate = 0.001 + rand() * 0.03;
  const input = Buffer.from(Array.from({ length: total }, () => randInt(rand, 256)));

  const sender = new ReplayBuffer(capacity);
  const receiver = new ReceiveCounter();
  const output: Buffer[] = [];
  const undelivered: Buffer[] = [];
  let read = 0;
  const stats = { connections: 0, duplicateBytes: 0, mostUndelivered: 0 };

  let up: Buffer = Buffer.alloc(0);
  let down: Buffer = Buffer.alloc(0);
  let remote = new FrameDecoder();
  let local = new FrameDecoder();
  let remoteReady = false;
  const sendUp = (f: Frame) => {
    up = Buffer.concat([up, encodeFrame(f)]);
  };
  const sendDown = (f: Frame) => {
    down = Buffer.concat([down, encodeFrame(f)]);
  };
  const connect = () => {
    up = down = Buffer.alloc(0);
    remote = new FrameDecoder();
    local = new FrameDecoder();
    remoteReady = false;
    stats.connections++;
    const from = rand() < 0.5 ? receiver.received : receiver.delivered;
    const mode = { kind: 'resume', stdoutReceived: from, stderrReceived: 0 } as const;
    sendUp({ type: 'hello', sessionId: Buffer.alloc(16), secret: Buffer.alloc(32), mode });
    // The last ack may have died with the old channel: without this a full sender waits forever.
    if (!withoutReack) sendUp({ type: 'ack', stream: 1, offset: receiver.delivered });
  };
  /** Moves a random prefix of the bytes in flight into the decoder. */
  const pump = (bytes: Buffer, decoder: FrameDecoder): [Buffer, Frame[]] => {
    if (bytes.length === 0) return [bytes, []];
    const n = 1 + randInt(rand, bytes.length);
    return [bytes.subarray(n), decoder.push(bytes.subarray(0, n))];
  };

  connect();
  for (let step = 0; !(receiver.ended && undelivered.length === 0); step++) {
    assert.ok(step < (withoutReack ? 100_000 : 2_000_000), `seed ${seed}: no progress`);
    if (rand() < breakRate) connect();
    switch (randInt(rand, 4)) {
      case 0: {
        // The remote reads its source while there is space (backpressure otherwise).
        const n = Math.min(1 + randInt(rand, maxChunk), total - read, sender.space);
        if (n <= 0) break;
        const offset = sender.sent;
        sender.append(input.subarray(read, read + n));
        read += n;
        if (!remoteReady) break;
        sendDown({ type: 'data', stream: 1, offset, payload: input.subarray(read - n, read) });
        if (read === total) sendDown({ type: 'eof', stream: 1, offset: sender.sent });
        break;
      }
      case 1: {
        let frames: Frame[];
        [up, frames] = pump(up, remote);
        for (const f of frames) {
          if (f.type === 'ack') sender.ack(f.offset);
          else if (f.type === 'hello' && f.mode.kind === 'resume') {
            remoteReady = true;
            sendDown({ type: 'welcome', resumed: true, stdinReceived: 0 });
            let offset = f.mode.stdoutReceived;
            for (const payload of sender.unacked(offset)) {
              sendDown({ type: 'data', stream: 1, offset, payload });
              offset += payload.length;
            }
            if (read === total) sendDown({ type: 'eof', stream: 1, offset: sender.sent });
          } else assert.fail(`remote got ${f.type}`);
        }
        break;
      }
      case 2: {
        let frames: Frame[];
        [down, frames] = pump(down, local);
        for (const f of frames) {
          if (f.type === 'data') {
            const fresh = receiver.accept(f.offset, f.payload);
            stats.duplicateBytes += f.payload.length - fresh.length;
            if (fresh.length > 0) undelivered.push(fresh);
          } else if (f.type === 'eof') receiver.eof(f.offset);
          else assert.equal(f.type, 'welcome');
        }
        const held = receiver.received - receiver.delivered;
        stats.mostUndelivered = Math.max(stats.mostUndelivered, held);
        break;
      }
      default: {
        // The local delivers some of what it holds, then acknowledges it.
        const chunk = undelivered.shift();
        if (chunk === undefined) break;
        output.push(chunk);
        receiver.deliver(chunk.length);
        sendUp({ type: 'ack', stream: 1, offset: receiver.delivered });
      }
    }
  }
  return { input, output: Buffer.concat(output), capacity, ...stats };
}

describe('resend after reattach, end to end (seeded, lossy channel)', () => {
  it('1000 random runs: output equals input exactly, undelivered bytes stay within capacity', () => {
    let connections = 0;
    let duplicateBytes = 0;
    for (let seed = 1; seed <= 1000; seed++) {
      const run = simulate(seed);
      assert.equal(run.output.length, run.input.length, `seed ${seed}: length`);
      assert.ok(run.output.equals(run.input), `seed ${seed}: content`);
      assert.ok(run.mostUndelivered <= run.capacity, `seed ${seed}: ${run.mostUndelivered} held`);
      connections += run.connections;
      duplicateBytes += run.duplicateBytes;
    }
    // The runs really did break and resend, and resends really did repeat bytes that were dropped.
    assert.ok(connections > 8000, `only ${connections} connections`);
    assert.ok(duplicateBytes > 0);
  });

  it('without the ack after each reattach, a full sender can wait forever', () => {
    const stalled = [1, 2, 3, 4, 5].filter((seed) => {
      try {
        simulate(seed, true);
        return false;
      } catch (err) {
        return /no progress/.test(String(err));
      }
    });
    assert.ok(stalled.length > 0);
  });
});
