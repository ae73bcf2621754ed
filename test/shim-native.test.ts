/**
 * The native byte path prototype (native/pump.h, measured by
 * bench/experiments/shim-native.ts) speaks the shim's wire format exactly: what its outbound
 * thread writes decodes with the JavaScript FrameDecoder, and frames JavaScript encodes are
 * delivered, deduplicated and acknowledged by its inbound thread as StreamPeer does. Built here
 * with the system C compiler (`node scripts/build-native.mjs --strict`); without one this fails
 * saying so.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fstatSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { before, describe, it } from 'node:test';
import { FrameDecoder } from '../src/shim/frame-decoder.js';
import { decodeBody, type Frame, frameParts } from '../src/shim/frames.js';
import {
  loadNativePump,
  NATIVE_PUMP_PATH,
  type NativePump,
  PREBUILT_PUMP_PATH,
} from '../src/shim/native-pump.js';
import { tmpDir, waitFor, withScope } from './helpers/index.js';

const ROOT = join(import.meta.dirname, '..', '..');
/**
 * The addon under test: the one `npm ci` builds, rebuilt here; or, with BURROW_TEST_NATIVE_ADDON,
 * one built elsewhere (test/shim-arm64 runs this file in arm64 Node on its cross-compiled addon).
 */
const GIVEN = process.env.BURROW_TEST_NATIVE_ADDON;
const ADDON = GIVEN ?? join(ROOT, 'native', 'build', 'shim-pump.node');

let pump: NativePump;

/** Every frame in `bytes` (after the handshake), in order. */
function decodeAll(bytes: Buffer): Frame[] {
  return new FrameDecoder({ afterHandshake: true }).push(bytes);
}

/** The payloads of the data frames of `stream`, joined, and checked to be contiguous from `from`. */
function payloadOf(frames: Frame[], stream: number, from: number): Buffer {
  let at = from;
  const parts: Buffer[] = [];
  for (const f of frames) {
    if (f.type !== 'data' || f.stream !== stream) continue;
    assert.equal(f.offset, at, 'data frames follow each other without a gap');
    parts.push(f.payload);
    at += f.payload.length;
  }
  return Buffer.concat(parts);
}

/** `fd` opened again non-blocking (a file description of its own), the old fd closed. */
function reopenNonBlocking(fd: number, flags: number): number {
  const again = openSync(`/proc/self/fd/${fd}`, flags | constants.O_NONBLOCK);
  closeSync(fd);
  return again;
}

/** What the non-blocking `fd` holds now (nothing at EAGAIN), read through `buf`. */
function readAvailable(fd: number, buf: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  try {
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) {
      parts.push(Buffer.from(buf.subarray(0, n)));
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
  }
  return parts;
}

/** Bytes this process has written through any system call so far (/proc/self/io). */
function bytesWritten(): number {
  return Number(/^wchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))![1]);
}

describe('shim native byte path (prototype)', () => {
  before(() => {
    if (!GIVEN) {
      const build = join(ROOT, 'scripts', 'build-native.mjs');
      const r = spawnSync(process.execPath, [build, '--strict'], { encoding: 'utf8' });
      assert.equal(r.status, 0, `building the addon failed:\n${r.stdout}${r.stderr}`);
    }
    const load = loadNativePump(ADDON);
    assert.ok(load.pump, `the addon does not load: ${load.reason}`);
    pump = load.pump;
    process.on('exit', () => pump.quiesce());
  });

  it('writes frames the JavaScript decoder reads: data in order, then eof; resends from an offset', async (t) => {
    await withScope(t, async (scope) => {
      const dir = await tmpDir(scope);
      const data = randomBytes(700_000);
      writeFileSync(join(dir, 'src'), data);
      let ended = -1;
      const out = pump.outbound(openSync(join(dir, 'src'), 'r'), 1, 1 << 20, (kind, a) => {
        if (kind === 'end') ended = a;
      });
      scope.defer(() => pump.outRef(out, false), 'unref the outbound');
      pump.outAttach(out, pump.wire(openSync(join(dir, 'wire1'), 'w')), 0);
      const total = data.length + Math.ceil(data.length / 65536) * 14 + 14;
      await waitFor(() => ended === data.length && statSync(join(dir, 'wire1')).size === total, {
        what: 'the whole stream and its eof on the first wire',
      });
      const frames = decodeAll(readFileSync(join(dir, 'wire1')));
      assert.ok(payloadOf(frames, 1, 0).equals(data));
      assert.deepEqual(frames.at(-1), { type: 'eof', stream: 1, offset: data.length });
      assert.ok(frames.every((f) => f.type !== 'data' || f.payload.length <= 65536));

      // Acked up to 100 000: a new wire resumes from the peer's offset 300 000.
      pump.outAck(out, 100_000);
      assert.throws(() => pump.outAck(out, 50_000), /ack outside the bytes sent/);
      pump.outAttach(out, pump.wire(openSync(join(dir, 'wire2'), 'w')), 300_000);
      await waitFor(
        () => {
          const f = decodeAll(readFileSync(join(dir, 'wire2')));
          return f.at(-1)?.type === 'eof' ? f : undefined;
        },
        { what: 'the resend and its eof on the second wire' },
      ).then((f) => assert.ok(payloadOf(f, 1, 300_000).equals(data.subarray(300_000))));
      assert.throws(() => pump.outAttach(out, pump.wire(openSync(join(dir, 'w3'), 'w')), 99_999));
    });
  });

  it('delivers frames JavaScript encoded, drops what a resend repeats, acks as it delivers', async (t) => {
    await withScope(t, async (scope) => {
      const dir = await tmpDir(scope);
      const data = randomBytes(280_000);
      const frames: Frame[] = [
        { type: 'data', stream: 1, offset: 0, payload: data.subarray(0, 65536) },
        { type: 'data', stream: 1, offset: 65536, payload: data.subarray(65536, 131072) },
        { type: 'ack', stream: 0, offset: 4096 }, // for the other direction: to JavaScript
        // A resend overlapping what arrived: only 131072.. is new.
        { type: 'data', stream: 1, offset: 100_000, payload: data.subarray(100_000, 165_536) },
        { type: 'data', stream: 1, offset: 165_536, payload: data.subarray(165_536, 231_072) },
        { type: 'data', stream: 1, offset: 231_072, payload: data.subarray(231_072) },
        { type: 'eof', stream: 1, offset: data.length },
      ];
      writeFileSync(join(dir, 'conn'), Buffer.concat(frames.flatMap(frameParts)));
      const events: [string, number, number, Buffer | string | undefined][] = [];
      const inb = pump.inbound(1 << 20, 64 * 1024, 20, (kind, a, b, d) =>
        events.push([kind, a, b, d]),
      );
      scope.defer(() => pump.inRef(inb, false), 'unref the inbound');
      // Not kept open: closed (ended) at its eof, as StreamPeer ends a sink.
      pump.inSink(inb, 1, openSync(join(dir, 'sink'), 'w'), false);
      pump.inAttach(
        inb,
        openSync(join(dir, 'conn'), 'r'),
        pump.wire(openSync(join(dir, 'reply'), 'w')),
        true,
      );
      await waitFor(() => events.some(([k]) => k === 'closed'), { what: 'the end of the conn' });
      assert.ok(readFileSync(join(dir, 'sink')).equals(data), 'the sink got every byte once');
      assert.equal(pump.inDelivered(inb, 1), data.length);
      const fromJs = events
        .filter(([k]) => k === 'frame')
        .map(([, , , d]) => decodeBody(d as Buffer));
      assert.deepEqual(fromJs, [{ type: 'ack', stream: 0, offset: 4096 }]);
      assert.deepEqual(
        events.find(([k]) => k === 'eof'),
        ['eof', 1, data.length, undefined],
      );
      const acks = decodeAll(readFileSync(join(dir, 'reply')));
      assert.ok(acks.every((f) => f.type === 'ack' && f.stream === 1));
      assert.deepEqual(acks.at(-1), { type: 'ack', stream: 1, offset: data.length });
      assert.ok(
        acks.length >= 2,
        `acks every 64 KiB delivered, not only at the end: ${acks.length}`,
      );
    });
  });

  it('refuses a gap: the connection is garbled, nothing past it is delivered', async (t) => {
    await withScope(t, async (scope) => {
      const dir = await tmpDir(scope);
      const frames: Frame[] = [
        { type: 'data', stream: 2, offset: 0, payload: Buffer.from('early ') },
        { type: 'data', stream: 2, offset: 100, payload: Buffer.from('too late') },
      ];
      writeFileSync(join(dir, 'conn'), Buffer.concat(frames.flatMap(frameParts)));
      const events: [string, string | undefined][] = [];
      const inb = pump.inbound(1 << 20, 1 << 20, 20, (kind, _a, _b, d) =>
        events.push([kind, typeof d === 'string' ? d : undefined]),
      );
      scope.defer(() => pump.inRef(inb, false), 'unref the inbound');
      pump.inSink(inb, 2, openSync(join(dir, 'sink'), 'w'), true);
      pump.inAttach(
        inb,
        openSync(join(dir, 'conn'), 'r'),
        pump.wire(openSync(join(dir, 'reply'), 'w')),
        true,
      );
      await waitFor(() => events.find(([k]) => k === 'garbled'), { what: 'the gap refused' });
      assert.match(events.find(([k]) => k === 'garbled')![1]!, /gap/);
      assert.equal(pump.inDelivered(inb, 2), 6);
      await waitFor(() => readFileSync(join(dir, 'sink'), 'utf8') === 'early ', {
        what: 'the bytes before the gap in the sink',
      });
    });
  });

  it('tags each connection event with the generation inAttach returned', async (t) => {
    await withScope(t, async (scope) => {
      const dir = await tmpDir(scope);
      const conn = (name: string, offset: number) => {
        const ack: Frame = { type: 'ack', stream: 0, offset };
        writeFileSync(join(dir, name), Buffer.concat(frameParts(ack)));
        return openSync(join(dir, name), 'r');
      };
      const events: [string, number, number][] = [];
      const inb = pump.inbound(1 << 20, 1 << 20, 20, (kind, _a, _b, d, gen) =>
        events.push([
          kind,
          kind === 'frame' ? (decodeBody(d as Buffer) as { offset: number }).offset : -1,
          gen,
        ]),
      );
      scope.defer(() => pump.inClose(inb), 'close the inbound');
      const reply = pump.wire(openSync(join(dir, 'reply'), 'w'));
      const a = pump.inAttach(inb, conn('a', 111), reply, true);
      await waitFor(() => events.some(([k]) => k === 'closed'), { what: 'the end of conn a' });
      const b = pump.inAttach(inb, conn('b', 222), reply, true);
      assert.ok(b > a, `a later attachment has a later generation: ${a}, ${b}`);
      await waitFor(() => events.filter(([k]) => k === 'closed').length === 2, {
        what: 'the end of conn b',
      });
      assert.deepEqual(events, [
        ['frame', 111, a],
        ['closed', -1, a],
        ['frame', 222, b],
        ['closed', -1, b],
      ]);
      pump.wireClose(reply);
    });
  });

  it('between pipes, moves payloads by splice: every byte once and in order, a resend deduplicated', async (t) => {
    await withScope(t, async (scope) => {
      const MiB = 1 << 20;
      const data = randomBytes(8 * MiB);
      const frames: Frame[] = [];
      for (let at = 0; at < data.length; at += 65536) {
        frames.push({
          type: 'data',
          stream: 0,
          offset: at,
          payload: data.subarray(at, at + 65536),
        });
        // A resend after a reconnect: half of it old, half new.
        if (at === 4 * MiB) {
          const payload = data.subarray(at + 32768, at + 98304);
          frames.push({ type: 'data', stream: 0, offset: at + 32768, payload });
        }
      }
      frames.push({ type: 'eof', stream: 0, offset: data.length });
      const wire = Buffer.concat(frames.flatMap(frameParts));
      const events: string[] = [];
      const inb = pump.inbound(16 * MiB, MiB, 20, (kind) => events.push(kind));
      scope.defer(() => pump.inClose(inb), 'close the inbound');
      // The test's ends, opened again non-blocking (the pump's pipes are blocking at first).
      const [sinkRaw, sinkW] = pump.pipe();
      const sinkR = reopenNonBlocking(sinkRaw, constants.O_RDONLY);
      scope.defer(() => closeSync(sinkR), 'close the sink pipe');
      pump.inSink(inb, 0, sinkW, false);
      const [connR, connRaw] = pump.pipe();
      const connW = reopenNonBlocking(connRaw, constants.O_WRONLY);
      const [replyR, replyW] = pump.pipe();
      scope.defer(() => closeSync(replyR), 'close the reply pipe');
      const before = bytesWritten();
      pump.inAttach(inb, connR, pump.wire(replyW), true);
      // Both ends in this process, as a writer and a reader that keep up: at every turn of the
      // event loop, write what the connection takes and read what the sink has. The writer keeps
      // under 512 KiB ahead of the reader, so the sink (a 1 MiB pipe) is never full however late
      // a turn comes on a busy machine: a full sink takes the copy path by design.
      const got: Buffer[] = [];
      const buf = Buffer.alloc(MiB);
      let sent = 0;
      let received = 0;
      const deadline = Date.now() + 20_000;
      while (!(events.includes('eof') && received === data.length)) {
        assert.ok(Date.now() < deadline, `every byte through the sink within 20 s: ${received}`);
        try {
          const room = 512 * 1024 - (sent - received);
          if (sent < wire.length && room > 0)
            sent += writeSync(connW, wire, sent, Math.min(wire.length - sent, room));
          if (sent === wire.length) {
            closeSync(connW);
            sent += 1; // closed
          }
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        }
        for (const part of readAvailable(sinkR, buf)) {
          got.push(part);
          received += part.length;
        }
        await new Promise((r) => setImmediate(r));
      }
      assert.ok(Buffer.concat(got).equals(data), 'the sink got every byte once, in order');
      assert.equal(pump.inDelivered(inb, 0), data.length);
      // Copies would have written the 8 MiB twice (the test into the pipe, the inbound to the sink).
      const written = bytesWritten() - before;
      assert.ok(written < 12 * MiB, `${(written / MiB).toFixed(1)} MiB written: payloads spliced`);
    });
  });

  it('into a pipe, hands payloads over by vmsplice from the replay ring: the frames decode, a resend too', async (t) => {
    await withScope(t, async (scope) => {
      const MiB = 1 << 20;
      const dir = await tmpDir(scope);
      const data = randomBytes(8 * MiB);
      writeFileSync(join(dir, 'src'), data);
      let ended = -1;
      const out = pump.outbound(openSync(join(dir, 'src'), 'r'), 1, 16 * MiB, (kind, a) => {
        if (kind === 'end') ended = a;
      });
      scope.defer(() => pump.outClose(out), 'close the outbound');
      const [wireRaw, wireW] = pump.pipe();
      const wireR = reopenNonBlocking(wireRaw, constants.O_RDONLY);
      scope.defer(() => closeSync(wireR), 'close the wire pipe');
      const wire = pump.wire(wireW);
      scope.defer(() => pump.wireClose(wire), 'close the wire');
      /** Reads the wire until `bytes` frames' worth came, at every turn of the event loop. */
      const drain = async (bytes: number) => {
        const parts: Buffer[] = [];
        const buf = Buffer.alloc(MiB);
        let got = 0;
        const deadline = Date.now() + 20_000;
        while (got < bytes) {
          assert.ok(Date.now() < deadline, `the wire carried ${got} of ${bytes} bytes in 20 s`);
          for (const part of readAvailable(wireR, buf)) {
            parts.push(part);
            got += part.length;
          }
          await new Promise((r) => setImmediate(r));
        }
        return Buffer.concat(parts);
      };
      const framed = (n: number) => n + Math.ceil(n / 65536) * 14;
      const before = bytesWritten();
      pump.outAttach(out, wire, 0);
      const first = await drain(framed(data.length) + 14);
      const written = bytesWritten() - before;
      // The end is an event the addon posts to JavaScript: it may come after the bytes.
      await waitFor(() => ended === data.length, { what: "the outbound's end event" });
      assert.ok(payloadOf(decodeAll(first), 1, 0).equals(data), 'every byte, in order');
      assert.ok(written < MiB, `${(written / MiB).toFixed(1)} MiB written: payloads vmsplice'd`);
      // Nothing acknowledged: a resend from an offset comes out of the same ring.
      pump.outAttach(out, wire, 5 * MiB);
      const again = await drain(framed(3 * MiB) + 14);
      assert.ok(payloadOf(decodeAll(again), 1, 5 * MiB).equals(data.subarray(5 * MiB)));
    });
  });

  it('loads from where the build puts it, else the prebuilt one, and says why not otherwise', () => {
    assert.equal(NATIVE_PUMP_PATH, join(ROOT, 'native', 'build', 'shim-pump.node'));
    assert.equal(
      PREBUILT_PUMP_PATH,
      join(ROOT, 'prebuilds', `linux-${process.arch}`, 'shim-pump.node'),
    );
    // Here the install's build; in test/shim-arm64's tree, which has none, the prebuilt one.
    const load = loadNativePump();
    assert.equal(load.pump, pump);
    assert.equal(load.where, ADDON);
    assert.equal(loadNativePump(relative(process.cwd(), ADDON)).pump, pump, 'relative to the cwd');
    const missing = loadNativePump('/nonexistent/shim-pump.node');
    assert.equal(missing.pump, undefined);
    assert.match(missing.reason!, /nonexistent\/shim-pump\.node is not built/);
    const notAddon = loadNativePump(join(ROOT, 'package.json'));
    assert.equal(notAddon.pump, undefined);
    assert.match(notAddon.reason!, /package\.json (does not load|is an older build)/);
  });

  it('closes: threads joined, rings freed, only owned fds closed, no event after', async (t) => {
    await withScope(t, async (scope) => {
      const threads = () => readdirSync('/proc/self/task').length;
      const fds = () => readdirSync('/proc/self/fd').length;
      const rssMiB = () =>
        Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;
      const baseThreads = threads();
      const baseFds = fds();
      const baseRss = rssMiB();
      const chunk = Buffer.alloc(1 << 20, 7);
      // 24 rounds of 8 MiB rings filled (touched) and closed: a leak would hold 192 MiB.
      for (let round = 0; round < 24; round++) {
        const [srcR, srcW] = pump.pipe();
        const [wireR, wireW] = pump.pipe();
        const events: string[] = [];
        const out = pump.outbound(srcR, 1, 8 << 20, (kind) => events.push(kind));
        scope.defer(() => pump.outClose(out), 'close the outbound (idempotent)');
        for (let i = 0; i < 8; i++) {
          await waitFor(
            () => {
              try {
                return writeSync(srcW, chunk) > 0;
              } catch (err) {
                if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return false;
                throw err;
              }
            },
            { what: 'room in the source pipe' },
          );
        }
        await waitFor(() => pump.outState(out)[2] === 8 << 20, { what: 'the ring filled' });
        // A wire nobody reads: the thread blocks writing to it once its pipe is full.
        const wire = pump.wire(wireW);
        pump.outAttach(out, wire, 0);
        // The first frame's header arrives; its batch (2 MiB) cannot fit the 1 MiB pipe.
        const head = Buffer.alloc(14);
        assert.equal(readSync(wireR, head), 14);
        assert.equal(head.readUInt32BE(0), 10 + 65536);
        const inb = pump.inbound(8 << 20, 1 << 20, 20, (kind) => events.push(kind));
        scope.defer(() => pump.inClose(inb), 'close the inbound (idempotent)');
        const [sinkR, sinkW] = pump.pipe();
        pump.inSink(inb, 1, sinkW, false); // owned: closed by inClose (not ended)
        const [connR, connW] = pump.pipe();
        pump.inAttach(inb, connR, wire, true);

        pump.outClose(out);
        pump.outClose(out); // idempotent
        pump.inClose(inb);
        pump.inClose(inb);
        assert.throws(() => pump.outAck(out, 0), /closed/);
        assert.throws(() => pump.outAttach(out, wire, 0), /closed/);
        assert.throws(() => pump.inAttach(inb, connR, wire, true), /closed/);
        pump.outRef(out, true); // no-ops on a closed handle
        pump.inRef(inb, true);
        // Not owned, still open: the source. Owned and closed: the connection, the sink.
        for (const fd of [srcR, srcW, connW, sinkR]) fstatSync(fd);
        assert.throws(() => fstatSync(connR), /EBADF/, 'the connection is closed');
        assert.throws(() => fstatSync(sinkW), /EBADF/, 'an owned sink is closed');
        pump.wireClose(wire); // the last reference: closes wireW
        assert.throws(() => fstatSync(wireW), /EBADF/);
        for (const fd of [srcR, srcW, connW, sinkR, wireR]) closeSync(fd);
        await new Promise((r) => setTimeout(r, 10));
        assert.deepEqual(events, [], 'no event reaches JavaScript after close');
      }
      assert.equal(threads(), baseThreads, 'every pump thread was joined');
      assert.equal(fds(), baseFds, 'no fd left behind');
      const grown = rssMiB() - baseRss;
      assert.ok(grown < 96, `resident memory grew by ${grown.toFixed(0)} MiB over 24 closed rings`);
    });
  });
});
