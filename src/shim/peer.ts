import { fstatSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { coalesceWrites } from '../streams/coalesce.js';
import { ignoreExpectedErrors } from '../streams/expected-errors.js';
import { type Frame, MAX_DATA_PAYLOAD, type StreamId } from './frames.js';
import { ReceiveCounter, ReplayBuffer } from './replay.js';
import { ReadRing } from './ring.js';
import { type Hold, RING_MIN_READ, ringSocket } from './ring-reader.js';
import { ACK_DELAY_MS } from './timings.js';

/**
 * One end of a shim session's streams, shared by the local side (sends stdin, receives stdout and
 * stderr) and the remote holder (the other way round). Connections come and go; the streams and
 * their accounting outlive them.
 *
 * Contract:
 * - Outgoing: bytes are read from the source only while the replay buffer has room (a full buffer
 *   pauses the source: backpressure, never loss); each chunk is sent on the current connection
 *   if there is one. EOF is sent once the source ends, after all its data.
 * - Incoming: a data frame's new part (duplicates after a resend are dropped) is written to the
 *   sink; it is acknowledged once the sink has taken it (delivered), at least every ackBytes and
 *   whenever the sink drains, so the sender's buffer bounds what either side holds.
 * - attach(): after a handshake, acknowledges everything delivered so far (the last ack may have
 *   died with the old connection) and resends every outgoing stream from the offset the peer
 *   reported, then its EOF if the source has ended.
 */

export type Send = (frame: Frame) => void;

/** Acknowledge at most this many delivered bytes late, and within ACK_DELAY_MS of a delivery. */
const MAX_ACK_BYTES = 1024 * 1024;

/**
 * How many delivered bytes may go unacknowledged when the peer's replay buffer holds `capacity`:
 * a quarter of it (at most a MiB), so the sender never waits on the delay for room to send.
 */
export function ackEvery(capacity: number): number {
  return Math.max(1, Math.min(MAX_ACK_BYTES, Math.floor(capacity / 4)));
}

interface Outgoing {
  readonly id: StreamId;
  readonly source: Readable;
  readonly replay: ReplayBuffer;
  /** Read from the source, not yet in the replay buffer (it had no room): at most one read. */
  readonly pending: Buffer[];
  /** The source has ended; `eofAt` is set once everything before the end is in the buffer. */
  ended: boolean;
  eofAt?: number;
  paused: boolean;
}

interface Incoming {
  readonly id: StreamId;
  readonly sink: Writable;
  readonly counter: ReceiveCounter;
  lastAck: number;
  ackTimer?: NodeJS.Timeout;
  /** EOF arrived and every byte before it was delivered: the sink has been ended. */
  ended: boolean;
  eofAt?: number;
}

export class StreamPeer {
  readonly #ackBytes: number;
  readonly #out = new Map<StreamId, Outgoing>();
  readonly #in = new Map<StreamId, Incoming>();
  #send: Send | undefined;
  /** Called when every incoming stream has ended and been delivered (e.g. to finish up). */
  onIncomingDone?: () => void;
  /** Called when every outgoing stream has ended and the peer has acknowledged all of it. */
  onOutgoingAcked?: () => void;

  /** `peerCapacity`: the size of the peer's replay buffers (what it may send unacknowledged). */
  constructor(peerCapacity: number) {
    this.#ackBytes = ackEvery(peerCapacity);
  }

  addOutgoing(id: StreamId, source: Readable, capacity: number): void {
    const o: Outgoing = {
      id,
      source,
      replay: new ReplayBuffer(capacity),
      pending: [],
      ended: false,
      paused: false,
    };
    source.on('data', (chunk: Buffer) => this.#read(o, chunk));
    this.#outgoing(o);
  }

  /**
   * Like addOutgoing, for the file descriptor `fd`. A pipe or socket is read straight into the
   * replay buffer's memory (a ReadRing of `capacity` bytes): no allocation per read, and reads of
   * up to a MiB. Anything else (a file, a terminal) is read as a stream. Returns the source.
   */
  addOutgoingFd(id: StreamId, fd: number, capacity: number, fallback: () => Readable): Readable {
    const stat = fstatSync(fd);
    if ((!stat.isFIFO() && !stat.isSocket()) || capacity < 2 * RING_MIN_READ) {
      const source = fallback();
      this.addOutgoing(id, source, capacity);
      return source;
    }
    const ring = new ReadRing(capacity, RING_MIN_READ);
    let o: Outgoing | undefined;
    const source = ringSocket(fd, ring, (chunk) => {
      this.#read(o!, chunk);
      return !o!.paused;
    });
    const release = (chunk: Buffer, n: number) => {
      if (ring.owns(chunk)) ring.release(n);
    };
    o = {
      id,
      source,
      replay: new ReplayBuffer(capacity, release),
      pending: [],
      ended: false,
      paused: false,
    };
    this.#outgoing(o);
    return source;
  }

  #read(o: Outgoing, chunk: Buffer): void {
    for (let at = 0; at < chunk.length; at += MAX_DATA_PAYLOAD) {
      o.pending.push(chunk.subarray(at, at + MAX_DATA_PAYLOAD));
    }
    this.#pump(o);
  }

  #outgoing(o: Outgoing): void {
    const { source } = o;
    this.#out.set(o.id, o);
    source.once('end', () => {
      o.ended = true;
      this.#pump(o);
    });
    ignoreExpectedErrors(source, `the source of stream ${o.id}`); // ends through 'close'
  }

  addIncoming(id: StreamId, sink: Writable): void {
    this.#in.set(id, { id, sink, counter: new ReceiveCounter(), lastAck: 0, ended: false });
    ignoreExpectedErrors(sink, `the sink of stream ${id}`); // EPIPE once its reader is gone
    // The payloads of one read (up to a MiB of frames) reach the sink in one writev.
    coalesceWrites(sink);
  }

  /** The offset received (and delivered) on an incoming stream, for a resume hello. */
  delivered(id: StreamId): number {
    return this.#in.get(id)?.counter.delivered ?? 0;
  }

  /** A new connection is up: resend from the peer's offsets and re-acknowledge. */
  attach(send: Send, peerReceived: Partial<Record<StreamId, number>>): void {
    this.#send = send;
    for (const i of this.#in.values()) this.#ack(i, true);
    for (const o of this.#out.values()) {
      let offset = Math.max(peerReceived[o.id] ?? o.replay.acked, o.replay.acked);
      // Resent chunks are the appended ones, each at most MAX_DATA_PAYLOAD.
      for (const chunk of o.replay.unacked(offset)) {
        send({ type: 'data', stream: o.id, offset, payload: chunk });
        offset += chunk.length;
      }
      if (o.eofAt !== undefined) send({ type: 'eof', stream: o.id, offset: o.eofAt });
    }
  }

  detach(): void {
    this.#send = undefined;
  }

  /**
   * Handles a data, ack or eof frame; throws ReplayError on a protocol violation. `hold` is
   * called for each write of a payload view to its sink (see ringReader), and what it returns once
   * that write is done.
   */
  receive(frame: Frame, hold?: Hold): void {
    if (frame.type === 'ack') {
      const o = this.#out.get(frame.stream);
      if (!o) return;
      o.replay.ack(frame.offset);
      this.#pump(o);
      this.#checkAcked();
      return;
    }
    const i = this.#in.get((frame as { stream: StreamId }).stream);
    if (!i) return;
    if (frame.type === 'data') {
      const fresh = i.counter.accept(frame.offset, frame.payload);
      if (fresh.length === 0) return;
      const written = hold?.();
      i.sink.write(fresh, () => {
        written?.();
        i.counter.deliver(fresh.length);
        this.#ack(i, false);
        this.#maybeEnd(i);
      });
    } else if (frame.type === 'eof') {
      if (i.counter.eof(frame.offset)) i.eofAt = frame.offset;
      this.#maybeEnd(i);
    }
  }

  /** Moves what was read into the replay buffer (and onto the wire) while it has room. */
  #pump(o: Outgoing): void {
    while (o.pending.length > 0 && o.pending[0]!.length <= o.replay.space) {
      const piece = o.pending.shift()!;
      const offset = o.replay.sent;
      o.replay.append(piece);
      this.#send?.({ type: 'data', stream: o.id, offset, payload: piece });
    }
    const full = o.pending.length > 0 || o.replay.space < MAX_DATA_PAYLOAD;
    if (full && !o.paused && !o.ended) {
      o.paused = true;
      o.source.pause();
    } else if (!full && o.paused) {
      o.paused = false;
      o.source.resume();
    }
    if (o.ended && o.pending.length === 0 && o.eofAt === undefined) {
      o.eofAt = o.replay.sent;
      this.#send?.({ type: 'eof', stream: o.id, offset: o.eofAt });
      this.#checkAcked();
    }
  }

  #ack(i: Incoming, force: boolean): void {
    if (!this.#send) return;
    const d = i.counter.delivered;
    if (d === i.lastAck && !force) return;
    if (force || d - i.lastAck >= this.#ackBytes) {
      clearTimeout(i.ackTimer);
      i.ackTimer = undefined;
      i.lastAck = d;
      this.#send({ type: 'ack', stream: i.id, offset: d });
      return;
    }
    i.ackTimer ??= setTimeout(() => {
      i.ackTimer = undefined;
      this.#ack(i, true);
    }, ACK_DELAY_MS);
  }

  #maybeEnd(i: Incoming): void {
    if (i.ended || i.eofAt === undefined || i.counter.delivered < i.eofAt) return;
    i.ended = true;
    this.#ack(i, true);
    if (i.sink !== process.stdout && i.sink !== process.stderr) i.sink.end();
    if ([...this.#in.values()].every((x) => x.ended)) this.onIncomingDone?.();
  }

  #checkAcked(): void {
    const all = [...this.#out.values()];
    if (all.every((o) => o.eofAt !== undefined && o.replay.acked === o.eofAt)) {
      this.onOutgoingAcked?.();
    }
  }
}
