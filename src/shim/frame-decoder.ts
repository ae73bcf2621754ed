import {
  DATA_HEAD_LENGTH as DATA_HEAD,
  DATA_TYPE,
  decodeBody,
  decodeDataHead,
  type Frame,
  FrameError,
  isHandshake,
  MAGIC,
  MAX_FRAME_LENGTH,
  malformed,
  PREAMBLE_LENGTH,
  PROTOCOL_VERSION,
  SNIFF_LENGTH,
  type StreamId,
} from './frames.js';

/**
 * Incremental decoder for one direction of one connection: push() bytes as they arrive, split
 * anywhere, and get the frames in order. Expects the preamble and a handshake frame first, and no
 * handshake frame after. On garbage push() throws FrameError, and so does every later push; frames
 * decoded earlier in that push are dropped (the connection is unusable; resuming recovers whatever
 * was not acknowledged). A length over MAX_FRAME_LENGTH is refused as soon as its 4 bytes arrive.
 *
 * Data payloads are never copied or held: once a data frame's header is in, its payload is
 * returned as it arrives, as one data frame per pushed chunk it spans, each a view of that chunk
 * with the offset of its first byte (so one frame on the wire may come out as several with
 * consecutive offsets and the same bytes in all). Only headers and the other, small frames are
 * gathered across pushes, copied out of the chunk so a large chunk is never retained.
 */
export class FrameDecoder {
  /**
   * `afterHandshake`: the preamble and handshake frame of this direction were read elsewhere
   * (the shim's --serve reads the hello and hands the connection on): start at the next frame.
   */
  constructor(opts: { afterHandshake?: boolean } = {}) {
    if (opts.afterHandshake) {
      this.state = 'length';
      this.first = false;
    }
  }

  /** Bytes gathered toward `need` (a preamble, a length, a head or a whole small frame). */
  private carry: Buffer[] = [];
  private carried = 0;
  private state: 'preamble' | 'length' | 'body' | 'payload' = 'preamble';
  private first = true;
  /** 'body': the frame's length; 'payload': data bytes still to come. */
  private length = 0;
  private remaining = 0;
  private stream: StreamId = 0;
  private offset = 0;
  private sniff = Buffer.alloc(0);
  private failure: FrameError | undefined;

  /** The first bytes pushed (up to SNIFF_LENGTH), for error messages. */
  get firstBytes(): Buffer {
    return this.sniff;
  }

  /** Bytes held toward an incomplete header or small frame (never a data payload). */
  get bufferedBytes(): number {
    return this.carried;
  }

  push(chunk: Buffer): Frame[] {
    if (this.failure) throw this.failure;
    if (this.sniff.length < SNIFF_LENGTH) {
      this.sniff = Buffer.concat([this.sniff, chunk.subarray(0, SNIFF_LENGTH - this.sniff.length)]);
    }
    const frames: Frame[] = [];
    try {
      this.consume(chunk, frames);
    } catch (err) {
      if (err instanceof FrameError) this.failure = err;
      this.carry = [];
      this.carried = 0;
      throw err;
    }
    return frames;
  }

  private consume(chunk: Buffer, frames: Frame[]): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.state === 'payload') {
        const n = Math.min(this.remaining, chunk.length - pos);
        const payload = chunk.subarray(pos, pos + n);
        frames.push({ type: 'data', stream: this.stream, offset: this.offset, payload });
        this.offset += n;
        this.remaining -= n;
        pos += n;
        if (this.remaining === 0) this.state = 'length';
        continue;
      }
      if (this.state === 'preamble') this.checkMagic(chunk, pos);
      const need =
        this.state === 'preamble'
          ? PREAMBLE_LENGTH
          : this.state === 'length'
            ? 4
            : this.peekType(chunk, pos) === DATA_TYPE && this.length >= DATA_HEAD
              ? DATA_HEAD
              : this.length;
      const before = this.carried;
      const bytes = this.take(chunk, pos, need);
      pos += (bytes ? need : this.carried) - before;
      if (!bytes) return;
      this.step(bytes, frames);
    }
  }

  /** Acts on `bytes`, exactly what the current state needed. */
  private step(bytes: Buffer, frames: Frame[]): void {
    if (this.state === 'preamble') {
      const peerVersion = bytes.readUInt16BE(MAGIC.length);
      if (peerVersion !== PROTOCOL_VERSION) {
        const why = `peer speaks shim protocol ${peerVersion}; this burrow speaks ${PROTOCOL_VERSION}`;
        throw new FrameError('bad-version', why, { peerVersion });
      }
      this.state = 'length';
      return;
    }
    if (this.state === 'length') {
      if (!this.first && bytes.equals(MAGIC.subarray(0, 4))) {
        throw malformed('a handshake frame after the first frame');
      }
      const length = bytes.readUInt32BE(0);
      if (length > MAX_FRAME_LENGTH) {
        throw new FrameError('too-large', `frame of ${length} bytes exceeds ${MAX_FRAME_LENGTH}`);
      }
      if (length === 0) throw malformed('empty frame');
      this.length = length;
      this.state = 'body';
      return;
    }
    // 'body': a whole small frame, or a data frame's head (its payload follows).
    const rest = this.length - bytes.length;
    if (bytes.length === DATA_HEAD && bytes[0] === DATA_TYPE && rest > 0 && !this.first) {
      const { stream, offset } = decodeDataHead(bytes);
      // Every piece's offset must stay an exact integer (the frame's own one was checked).
      if (rest - 1 > Number.MAX_SAFE_INTEGER - offset) {
        throw malformed(`data: ${rest} bytes at offset ${offset} pass 2^53-1`);
      }
      this.stream = stream;
      this.offset = offset;
      this.remaining = rest;
      this.state = 'payload';
      return;
    }
    const frame = decodeBody(bytes);
    if (isHandshake(frame.type) !== this.first) {
      throw malformed(`${frame.type} ${this.first ? 'as the first' : 'after the first'} frame`);
    }
    this.first = false;
    frames.push(frame);
    this.state = 'length';
  }

  /** The frame's type byte, which is the first byte of the body. */
  private peekType(chunk: Buffer, pos: number): number {
    return this.carried > 0 ? this.carry[0]![0]! : chunk[pos]!;
  }

  /** Refuses the preamble at its first wrong byte, even before all of it has arrived. */
  private checkMagic(chunk: Buffer, pos: number): void {
    const n = Math.min(chunk.length - pos, MAGIC.length - this.carried);
    if (n <= 0) return;
    const expected = MAGIC.subarray(this.carried, this.carried + n);
    if (!chunk.subarray(pos, pos + n).equals(expected)) {
      const firstBytes = this.sniff;
      const sent = JSON.stringify(firstBytes.toString('utf8'));
      throw new FrameError('bad-magic', `peer is not a burrow shim; it sent ${sent}`, {
        firstBytes,
      });
    }
  }

  /**
   * The next `n` bytes as one buffer: a view of the chunk when nothing is carried and it holds
   * them all, else gathered (copied) with what was carried. Undefined when they have not all
   * arrived: then the chunk's rest is carried.
   */
  private take(chunk: Buffer, pos: number, n: number): Buffer | undefined {
    const available = chunk.length - pos;
    if (this.carried === 0 && available >= n) return chunk.subarray(pos, pos + n);
    const piece = chunk.subarray(pos, pos + Math.min(n - this.carried, available));
    this.carry.push(Buffer.from(piece));
    this.carried += piece.length;
    if (this.carried < n) return undefined;
    const whole = Buffer.concat(this.carry, this.carried);
    this.carry = [];
    this.carried = 0;
    return whole;
  }
}
