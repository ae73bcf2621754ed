import { CodedError } from '../core/errors.js';
/**
 * Byte accounting for one direction of one shim stream (pure: no sockets, timers or fs).
 *
 * The sender keeps what it has sent in a ReplayBuffer until the peer acknowledges it; after a
 * reattach it resends from the offset the peer says it has received. The receiver runs a
 * ReceiveCounter, which drops what a resend repeats and refuses a gap. Together they guarantee
 * that the receiver's output is the sender's input exactly: nothing lost, duplicated or reordered.
 *
 * Flow control: a sender appends only while `space` allows and otherwise stops reading its
 * source. If the receiver acknowledges bytes as it *delivers* them to their destination (not as
 * they arrive), the bytes it holds undelivered never exceed the sender's capacity, and it can keep
 * reading the channel (so acks for the other direction keep flowing, and a slow destination cannot
 * deadlock the two directions against each other). On every reattach the receiver acknowledges
 * `delivered` again right after the handshake: its last ack may have been lost with the old
 * channel, and a sender whose buffer is full would otherwise wait for it forever. (Resuming from
 * the peer's received offset does not release anything: that would let undelivered bytes grow
 * past the capacity with every reattach.)
 *
 * Offsets are byte counts since the stream began: safe integers (2^53), far past 4 GiB.
 */

export type ReplayErrorCode =
  | 'over-capacity'
  | 'ack-out-of-range'
  | 'resume-out-of-range'
  | 'bad-offset'
  | 'gap'
  | 'after-eof'
  | 'eof-mismatch'
  | 'over-delivery';

/** A protocol violation by the peer (or a misuse by the caller); the message is safe to show. */
export class ReplayError extends CodedError<ReplayErrorCode> {
  override readonly name = 'ReplayError';
}

const isOffset = (v: number) => Number.isSafeInteger(v) && v >= 0;
const EMPTY = Buffer.alloc(0);

/**
 * The bytes a sender has sent and the peer has not yet acknowledged, at most `capacity` of them.
 * Holds the appended chunks themselves (no copies; the caller must not modify a chunk after
 * appending it) and releases each as soon as acks cover it. A chunk acked only in part stays in
 * memory whole until the rest is acked, so memory is at most capacity + one chunk.
 */
export class ReplayBuffer {
  readonly capacity: number;
  /** Unacknowledged chunks in order, from index `head`; the first starts at offset `acked`. */
  private chunks: Buffer[] = [];
  private head = 0;
  private _sent = 0;
  private _acked = 0;

  /**
   * `onRelease(chunk, n)` is told of every release as acks come in: the first `n` bytes of the
   * held `chunk` are no longer needed (so memory they live in, like a ReadRing's, may be reused).
   */
  constructor(
    capacity: number,
    private readonly onRelease?: (chunk: Buffer, n: number) => void,
  ) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`replay buffer capacity must be a positive integer, not ${capacity}`);
    }
    this.capacity = capacity;
  }

  /** Total bytes appended since the stream began: the offset the next appended byte will have. */
  get sent(): number {
    return this._sent;
  }

  /** Offset up to which the peer has acknowledged receipt; everything before it is released. */
  get acked(): number {
    return this._acked;
  }

  /** Bytes sent and not acknowledged. */
  get unackedBytes(): number {
    return this._sent - this._acked;
  }

  /** How many more bytes append() accepts now: capacity minus unacknowledged bytes. */
  get space(): number {
    return this.capacity - this.unackedBytes;
  }

  /**
   * Records bytes the caller is sending at offset `sent`. Throws over-capacity (and records
   * nothing) when chunk.length > space: the caller must stop reading its source until acks free
   * room, and must not split a chunk it has already sent.
   */
  append(chunk: Buffer): void {
    if (chunk.length > this.space) {
      throw new ReplayError(
        'over-capacity',
        `cannot buffer ${chunk.length} bytes: only ${this.space} of ${this.capacity} free`,
      );
    }
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this._sent += chunk.length;
  }

  /**
   * The peer has received everything before `offset`: releases it. Acks must not go backwards or
   * beyond what was sent (ack-out-of-range); repeating the current ack is allowed.
   */
  ack(offset: number): void {
    if (!isOffset(offset) || offset < this._acked || offset > this._sent) {
      throw new ReplayError(
        'ack-out-of-range',
        `ack of offset ${offset} is outside ${this._acked}..${this._sent}`,
      );
    }
    let release = offset - this._acked;
    this._acked = offset;
    while (release > 0) {
      const first = this.chunks[this.head]!;
      if (first.length > release) {
        this.onRelease?.(first, release);
        this.chunks[this.head] = first.subarray(release);
        break;
      }
      this.onRelease?.(first, first.length);
      this.chunks[this.head++] = EMPTY;
      release -= first.length;
    }
    // Compact now and then, so the array does not grow without bound and shift() is never needed.
    if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * Exactly the bytes from `from` to `sent`, in order, as views of the held chunks (no copies;
   * chunks come back as appended, the first possibly trimmed, so a caller that appends one data
   * frame's payload at a time can resend each as one frame). `from` is the peer's received offset
   * on a reattach and must be within acked..sent (resume-out-of-range). Releases nothing: call ack()
   * for that, and for flow control prefer the peer's next ordinary ack.
   */
  unacked(from: number): Buffer[] {
    if (!isOffset(from) || from < this._acked || from > this._sent) {
      throw new ReplayError(
        'resume-out-of-range',
        `peer resumes at offset ${from}, outside the replayable ${this._acked}..${this._sent}`,
      );
    }
    const out: Buffer[] = [];
    let skip = from - this._acked;
    for (let i = this.head; i < this.chunks.length; i++) {
      const chunk = this.chunks[i]!;
      if (skip >= chunk.length) skip -= chunk.length;
      else {
        out.push(skip > 0 ? chunk.subarray(skip) : chunk);
        skip = 0;
      }
    }
    return out;
  }
}

/**
 * The receiving end of one stream: which of the bytes that arrive are new, how many have arrived
 * (`received`, the offset to resume from), and how many the caller has delivered onward
 * (`delivered`, the offset to acknowledge for flow control; see the module comment).
 */
export class ReceiveCounter {
  private _received = 0;
  private _delivered = 0;
  private final: number | undefined;

  /** Bytes received contiguously since the stream began. */
  get received(): number {
    return this._received;
  }

  /** Bytes the caller reported delivered (deliver()); never more than received. */
  get delivered(): number {
    return this._delivered;
  }

  /** Whether the peer's eof has arrived (all bytes up to it have, too). */
  get ended(): boolean {
    return this.final !== undefined;
  }

  /**
   * Data at `offset`: returns the part not received before (a view of payload; empty for a pure
   * duplicate, as after a resend) and counts it received. Throws gap when offset > received
   * (bytes in between were lost), after-eof for new bytes past the stream's end.
   */
  accept(offset: number, payload: Buffer): Buffer {
    if (!isOffset(offset)) throw new ReplayError('bad-offset', `data at offset ${offset}`);
    if (offset > this._received) {
      throw new ReplayError(
        'gap',
        `data at offset ${offset} but only ${this._received} bytes received: ${offset - this._received} lost`,
      );
    }
    const end = offset + payload.length;
    if (end <= this._received) return payload.subarray(payload.length);
    if (this.final !== undefined) {
      throw new ReplayError(
        'after-eof',
        `data up to ${end} after the stream ended at ${this.final}`,
      );
    }
    const fresh = payload.subarray(this._received - offset);
    this._received = end;
    return fresh;
  }

  /**
   * The peer's eof at `offset` (the stream's length). Returns true the first time, false for a
   * repeat (as after a resend). Throws gap when bytes before it are missing, eof-mismatch when
   * more than that had arrived.
   */
  eof(offset: number): boolean {
    if (!isOffset(offset)) throw new ReplayError('bad-offset', `eof at offset ${offset}`);
    if (offset > this._received) {
      throw new ReplayError('gap', `eof at ${offset} but only ${this._received} bytes received`);
    }
    if (offset < this._received) {
      throw new ReplayError('eof-mismatch', `eof at ${offset} after ${this._received} bytes`);
    }
    const first = this.final === undefined;
    this.final = offset;
    return first;
  }

  /** The caller has passed `count` more of the received bytes on to their destination. */
  deliver(count: number): void {
    if (!isOffset(count) || this._delivered + count > this._received) {
      throw new ReplayError(
        'over-delivery',
        `cannot deliver ${count} bytes: ${this._received - this._delivered} undelivered`,
      );
    }
    this._delivered += count;
  }
}
