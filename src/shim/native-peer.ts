import { closeSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { decodeBody, encodeFrame, type Frame, type StreamId } from './frames.js';
import type { NativePump, PumpHandle } from './native-pump.js';
import { ackEvery, StreamPeer } from './peer.js';
import { ReplayError } from './replay.js';
import { ACK_DELAY_MS, RECEIVE_SLACK } from './timings.js';

/**
 * StreamPeer's contract (peer.ts) with the bytes moved by the native pump (native/pump.h): an
 * outgoing stream is read by a native thread into its replay ring and written as data frames; a
 * connection is read by one native thread, which delivers the data of native sinks itself (and
 * acknowledges it), and hands every other frame to JavaScript as a Frame. No JavaScript runs per
 * chunk; acks, handshakes, pings, signals and exit statuses still pass through here.
 *
 * A stream whose sink is a JavaScript Writable (the local side's stderr, which the shim's own
 * messages share) is carried by an inner StreamPeer, exactly as on the JavaScript path.
 *
 * Connections are Links: a read fd and a write fd (each a pipe or socket). One Link at a time is
 * read (read()), from its handshake on the local side, from its admission on the holder; reading
 * another one, detaching or closing stops reading the previous one, and the inbound closes the
 * read fd itself (it may be inside read(2) on it). A Link's write side is a wire: control frames
 * are queued and written between data batches, whole.
 */

/** What a Link's input brings, for the driver. */
export interface LinkEvents {
  frame(frame: Frame): void;
  /** The input is not the protocol; `notBurrow`: its first bytes, when it is not burrow at all. */
  garbled(notBurrow?: string): void;
  /** The input ended (EOF or an error); `heard`: at least one byte came. */
  closed(heard: boolean): void;
  /** Writing to the link failed (its reader is gone). */
  broken?(): void;
}

export class Link {
  readonly wire: PumpHandle;
  readonly afterHandshake: boolean;
  readonly events: LinkEvents;
  readonly #pump: NativePump;
  #readFd: number | undefined;
  #closed = false;

  /** Takes both fds: they are closed with the link (the read fd by the inbound, once read). */
  constructor(
    pump: NativePump,
    fds: { readonly readFd: number; readonly writeFd: number },
    afterHandshake: boolean,
    events: LinkEvents,
  ) {
    this.#pump = pump;
    this.#readFd = fds.readFd;
    this.wire = pump.wire(fds.writeFd);
    this.afterHandshake = afterHandshake;
    this.events = events;
  }

  /** Queues a frame; written whole before the next data batch. Dropped once closed. */
  send(frame: Frame): void {
    if (!this.#closed) this.#pump.wireWrite(this.wire, encodeFrame(frame));
  }

  /** Bytes of control frames still queued (0 once closed). */
  get queued(): number {
    return this.#closed ? 0 : this.#pump.wireQueued(this.wire);
  }

  /** Resolves once what was queued is written, or after `maxMs` (nobody reads the link). */
  async written(maxMs = 2000): Promise<void> {
    for (let waited = 0; this.queued > 0 && waited < maxMs; waited += 5) {
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** The read fd, for the inbound (which closes it from then on). */
  takeReadFd(): number {
    const fd = this.#readFd;
    if (fd === undefined) throw new Error('the link is read already');
    this.#readFd = undefined;
    return fd;
  }

  /** Closes the write side, and the read fd unless an inbound took it. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pump.wireClose(this.wire);
    if (this.#readFd !== undefined) closeSync(this.#readFd);
    this.#readFd = undefined;
  }
}

interface NativeOut {
  readonly handle: PumpHandle;
  /** The generation of its attachment: a `broken` event of an older one is stale. */
  gen?: number;
}

export class NativePeer {
  readonly #pump: NativePump;
  /** The streams whose sinks are JavaScript Writables. */
  readonly #js: StreamPeer;
  #jsIncoming = 0;
  #jsDone = false;
  readonly #in: PumpHandle;
  readonly #out = new Map<StreamId, NativeOut>();
  /** Native sinks, and whether each has ended (all delivered up to its eof). */
  readonly #sinks = new Map<StreamId, boolean>();
  #reading: { readonly gen: number; readonly link: Link } | undefined;
  #incomingDone = false;
  #closed = false;
  /** Called once every incoming stream has ended and been delivered. */
  onIncomingDone?: () => void;

  /** `peerCapacity`: the size of the peer's replay buffers (what it may send unacknowledged). */
  constructor(pump: NativePump, peerCapacity: number) {
    this.#pump = pump;
    this.#js = new StreamPeer(peerCapacity);
    this.#js.onIncomingDone = () => {
      this.#jsDone = true;
      this.#checkIncoming();
    };
    this.#in = pump.inbound(
      peerCapacity + RECEIVE_SLACK,
      ackEvery(peerCapacity),
      ACK_DELAY_MS,
      (kind, a, _b, data, gen) => this.#inEvent(kind, a, data, gen),
    );
  }

  /** Stream `id` is read from `fd` (a pipe or socket; this peer does not close it). */
  addOutgoingFd(id: StreamId, fd: number, capacity: number): void {
    const o: NativeOut = {
      handle: this.#pump.outbound(fd, id, capacity, (kind, gen) => {
        if (kind === 'broken' && gen === o.gen) this.#reading?.link.events.broken?.();
      }),
    };
    this.#out.set(id, o);
  }

  /** Stream `id` is written to `fd` natively; closed at its eof unless `keepOpen`. */
  addIncomingFd(id: StreamId, fd: number, keepOpen: boolean): void {
    this.#pump.inSink(this.#in, id, fd, keepOpen);
    this.#sinks.set(id, false);
  }

  /** Stream `id` is written to `sink` from JavaScript (see StreamPeer.addIncoming). */
  addIncoming(id: StreamId, sink: Writable): void {
    this.#js.addIncoming(id, sink);
    this.#jsIncoming += 1;
  }

  /** The offset received and delivered on an incoming stream, for a resume hello. */
  delivered(id: StreamId): number {
    return this.#sinks.has(id) ? this.#pump.inDelivered(this.#in, id) : this.#js.delivered(id);
  }

  /** Reads `link` from now on (and no other); its frames go to its events. */
  read(link: Link): void {
    const gen = this.#pump.inAttach(this.#in, link.takeReadFd(), link.wire, link.afterHandshake);
    this.#reading = { gen, link };
  }

  /**
   * Streams through `link` (read() first): re-acknowledges what was delivered, and resends every
   * outgoing stream from the offset the peer reported, then its eof once the source has ended.
   */
  attach(link: Link, peerReceived: Partial<Record<StreamId, number>>): void {
    this.#js.attach((f) => link.send(f), peerReceived);
    this.#pump.inAckAll(this.#in);
    for (const [id, o] of this.#out) {
      const [acked] = this.#pump.outState(o.handle);
      const from = Math.max(peerReceived[id] ?? acked, acked);
      try {
        o.gen = this.#pump.outAttach(o.handle, link.wire, from);
      } catch (err) {
        throw new ReplayError('resume-out-of-range', `stream ${id}: ${(err as Error).message}`);
      }
    }
  }

  /** The connection is gone: nothing is sent until the next attach. */
  detach(): void {
    this.#js.detach();
    for (const o of this.#out.values()) this.#pump.outDetach(o.handle);
  }

  /** Stops reading `link` (if it is read) and closes it. */
  closeLink(link: Link): void {
    if (this.#reading?.link === link) {
      this.#reading = undefined;
      this.#pump.inDetach(this.#in);
    }
    link.close();
  }

  /** An ack, or a data or eof frame of a JavaScript sink; throws ReplayError on a violation. */
  receive(frame: Frame): void {
    const o = frame.type === 'ack' ? this.#out.get(frame.stream) : undefined;
    if (frame.type === 'ack' && o) {
      try {
        this.#pump.outAck(o.handle, frame.offset);
      } catch (err) {
        throw new ReplayError(
          'ack-out-of-range',
          `stream ${frame.stream}: ${(err as Error).message}`,
        );
      }
      return;
    }
    this.#js.receive(frame);
  }

  /** Stops the native threads and frees their memory; the peer is unusable after. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reading = undefined;
    for (const o of this.#out.values()) this.#pump.outClose(o.handle);
    this.#pump.inClose(this.#in);
  }

  #inEvent(kind: string, a: number, data: Buffer | string | undefined, gen: number) {
    if (kind === 'eof') {
      this.#sinks.set(a as StreamId, true);
      return this.#checkIncoming();
    }
    const reading = this.#reading;
    if (!reading || reading.gen !== gen) return; // from a connection read before
    const { events } = reading.link;
    if (kind === 'frame') {
      let frame: Frame;
      try {
        frame = decodeBody(data as Buffer);
      } catch {
        this.#stopReading();
        return events.garbled();
      }
      return events.frame(frame);
    }
    this.#stopReading();
    if (kind === 'closed') return events.closed(a > 0);
    // a = 1: not the protocol's magic (data: the first bytes); else a version or framing error.
    events.garbled(a === 1 && Buffer.isBuffer(data) ? data.toString('latin1') : undefined);
  }

  /** The inbound has stopped reading (closed or garbled): later events of it are stale. */
  #stopReading(): void {
    if (!this.#reading) return;
    this.#reading = undefined;
    this.#pump.inDetach(this.#in);
  }

  #checkIncoming(): void {
    if (this.#incomingDone) return;
    if (this.#jsIncoming > 0 && !this.#jsDone) return;
    for (const ended of this.#sinks.values()) if (!ended) return;
    this.#incomingDone = true;
    this.onIncomingDone?.();
  }
}
