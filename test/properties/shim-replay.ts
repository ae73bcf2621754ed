/** Properties of the shim's replay buffer and receive counter (src/shim/replay.ts). */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ReceiveCounter, ReplayBuffer, ReplayError } from '../../src/shim/replay.js';
import { type FuzzProperty, thrown } from './property.js';

const SUBJECT = 'shim/replay.ts';

/** What happens on the link between one sender and one receiver, step by step. */
type Step =
  | { kind: 'write'; size: number }
  | { kind: 'deliver'; count: number }
  | { kind: 'lose'; frames: number }
  | { kind: 'reattach' };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      size: fc.integer({ min: 1, max: 300 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('deliver' as const), count: fc.nat(400) }),
  },
  fc.record({ kind: fc.constant('lose' as const), frames: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ kind: fc.constant('reattach' as const) }),
);

/** A number a hostile peer may put where an offset or count belongs. */
const hostileNumber = fc.oneof(
  fc.integer({ min: -5, max: 2000 }),
  fc.constantFrom(
    Number.NaN,
    Number.POSITIVE_INFINITY,
    -0,
    0.5,
    2 ** 53,
    Number.MAX_SAFE_INTEGER,
    -1,
  ),
  fc.double(),
);
type Hostile =
  | { op: 'ack' | 'unacked' | 'eof' | 'deliver'; n: number }
  | { op: 'append'; size: number }
  | { op: 'accept'; n: number; size: number };
const hostile: fc.Arbitrary<Hostile> = fc.oneof(
  fc.record({
    op: fc.constantFrom('ack' as const, 'unacked' as const, 'eof' as const, 'deliver' as const),
    n: hostileNumber,
  }),
  fc.record({ op: fc.constant('append' as const), size: fc.nat(600) }),
  fc.record({ op: fc.constant('accept' as const), n: hostileNumber, size: fc.nat(300) }),
);

export const shimReplayProperties: FuzzProperty[] = [
  {
    subject: SUBJECT,
    name: 'through losses and reattaches the receiver delivers exactly the bytes written, buffering at most the capacity',
    runs: 300,
    property: () =>
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.array(step, { maxLength: 60 }),
        (capacity, steps) => {
          const sender = new ReplayBuffer(capacity);
          const receiver = new ReceiveCounter();
          const written: Buffer[] = [];
          const out: Buffer[] = [];
          /** Frames in flight on the current channel: [offset, payload]. */
          let wire: [number, Buffer][] = [];
          /** The channel lost frames: nothing sent on it arrives until the reattach. */
          let broken = false;
          let counter = 0;
          const arrive = () => {
            for (const [at, payload] of wire) out.push(receiver.accept(at, payload));
            wire = [];
          };
          for (const s of steps) {
            if (s.kind === 'write') {
              const size = Math.min(s.size, sender.space);
              if (size === 0) continue;
              const chunk = Buffer.alloc(size, counter++ & 0xff);
              if (!broken) wire.push([sender.sent, chunk]);
              sender.append(chunk);
              written.push(chunk);
            } else if (s.kind === 'lose') {
              wire = wire.slice(0, Math.max(0, wire.length - s.frames));
              broken = true;
            } else if (s.kind === 'deliver') {
              arrive();
              if (broken) continue; // no ack crosses a broken channel
              const count = Math.min(s.count, receiver.received - receiver.delivered);
              receiver.deliver(count);
              sender.ack(receiver.delivered);
            } else {
              // The channel breaks (what was in flight is lost); on the new one the receiver says
              // what it has, the sender resends from there, and the receiver acks what it delivered.
              broken = false;
              let at = receiver.received;
              wire = sender.unacked(at).map((chunk) => {
                const frame: [number, Buffer] = [at, chunk];
                at += chunk.length;
                return frame;
              });
              sender.ack(receiver.delivered);
            }
            assert.ok(sender.unackedBytes <= capacity && sender.space >= 0);
            assert.ok(receiver.delivered <= receiver.received && receiver.received <= sender.sent);
          }
          // Reattach once more and deliver everything: nothing lost, duplicated or reordered.
          let at = receiver.received;
          for (const chunk of sender.unacked(at)) {
            out.push(receiver.accept(at, chunk));
            at += chunk.length;
          }
          wire = [];
          assert.equal(receiver.received, sender.sent);
          assert.ok(receiver.eof(sender.sent));
          assert.deepEqual(Buffer.concat(out), Buffer.concat(written));
        },
      ),
  },
  {
    subject: SUBJECT,
    name: 'hostile offsets and counts throw ReplayError only and never break the invariants',
    runs: 500,
    property: () =>
      fc.property(
        fc.integer({ min: 1, max: 500 }),
        fc.array(hostile, { maxLength: 40 }),
        (capacity, ops) => {
          const sender = new ReplayBuffer(capacity);
          const receiver = new ReceiveCounter();
          for (const o of ops) {
            const err = thrown(() => {
              if (o.op === 'append') sender.append(Buffer.alloc(o.size));
              else if (o.op === 'ack') sender.ack(o.n);
              else if (o.op === 'unacked') {
                const held = Buffer.concat(sender.unacked(o.n));
                assert.equal(held.length, sender.sent - o.n);
              } else if (o.op === 'accept') {
                const fresh = receiver.accept(o.n, Buffer.alloc(o.size));
                assert.ok(fresh.length <= o.size);
              } else if (o.op === 'eof') receiver.eof(o.n);
              else receiver.deliver(o.n);
            });
            if (err !== undefined) assert.ok(err instanceof ReplayError, String(err));
            assert.ok(Number.isSafeInteger(sender.acked) && Number.isSafeInteger(sender.sent));
            assert.ok(0 <= sender.acked && sender.acked <= sender.sent);
            assert.ok(sender.unackedBytes <= capacity);
            assert.ok(
              Number.isSafeInteger(receiver.received) && Number.isSafeInteger(receiver.delivered),
            );
            assert.ok(0 <= receiver.delivered && receiver.delivered <= receiver.received);
          }
        },
      ),
  },
];
