import {
  decodeBody,
  type Frame,
  FrameError,
  isHandshake,
  MAGIC,
  MAX_FRAME_LENGTH,
  malformed,
  PREAMBLE_LENGTH,
  PROTOCOL_VERSION,
  SNIFF_LENGTH,
} from './frames.js';

/**
 * Incremental decoder for one direction of one connection: push() bytes as they arrive, split
 * anywhere, and get the complete frames in order. Expects the preamble and a handshake frame
 * first, and no handshake frame after. On garbage push() throws FrameError, and so does every later
 * push; frames decoded earlier in that push are dropped (the connection is unusable; resuming
 * recovers whatever was not acknowledged). Between pushes it holds at most one partial frame,
 * copied out of the pushed chunk so a large chunk is not retained; a length over MAX_FRAME_LENGTH
 * is refused as soon as its 4 bytes arrive. Payloads may share memory with the pushed chunks.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Buffered bytes needed before decoding can make progress (0: look at every byte). */
  private need = 0;
  private state: 'preamble' | 'first' | 'frames' = 'preamble';
  private sniff = Buffer.alloc(0);
  private failure: FrameError | undefined;

  /** The first bytes pushed (up to SNIFF_LENGTH), for error messages. */
  get firstBytes(): Buffer {
    return this.sniff;
  }

  /** Bytes held for an incomplete frame: less than PREAMBLE_LENGTH + 4 + MAX_FRAME_LENGTH. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): Frame[] {
    if (this.failure) throw this.failure;
    if (this.sniff.length < SNIFF_LENGTH) {
      this.sniff = Buffer.concat([this.sniff, chunk.subarray(0, SNIFF_LENGTH - this.sniff.length)]);
    }
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered < this.need || this.buffered === 0) return [];
    const buf = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks, this.buffered);
    const frames: Frame[] = [];
    let rest: Buffer;
    try {
      rest = buf.subarray(this.parse(buf, frames));
    } catch (err) {
      if (err instanceof FrameError) this.failure = err;
      this.chunks = [];
      this.buffered = 0;
      throw err;
    }
    this.chunks = rest.length > 0 ? [Buffer.from(rest)] : [];
    this.buffered = rest.length;
    return frames;
  }

  /** Decodes the whole frames in buf into frames; returns where the incomplete rest begins. */
  private parse(buf: Buffer, frames: Frame[]): number {
    for (let pos = 0; ; ) {
      const left = buf.length - pos;
      if (this.state === 'preamble') {
        const n = Math.min(left, MAGIC.length);
        if (!buf.subarray(pos, pos + n).equals(MAGIC.subarray(0, n))) {
          const firstBytes = this.sniff;
          const sent = JSON.stringify(firstBytes.toString('utf8'));
          throw new FrameError('bad-magic', `peer is not a burrow shim; it sent ${sent}`, {
            firstBytes,
          });
        }
        if (left < PREAMBLE_LENGTH) return pos;
        const peerVersion = buf.readUInt16BE(pos + MAGIC.length);
        if (peerVersion !== PROTOCOL_VERSION) {
          const why = `peer speaks shim protocol ${peerVersion}; this burrow speaks ${PROTOCOL_VERSION}`;
          throw new FrameError('bad-version', why, { peerVersion });
        }
        pos += PREAMBLE_LENGTH;
        this.state = 'first';
        continue;
      }
      this.need = 4;
      if (left < 4) return pos;
      if (this.state === 'frames' && buf.subarray(pos, pos + 4).equals(MAGIC.subarray(0, 4))) {
        throw malformed('a handshake frame after the first frame');
      }
      const length = buf.readUInt32BE(pos);
      if (length > MAX_FRAME_LENGTH) {
        throw new FrameError('too-large', `frame of ${length} bytes exceeds ${MAX_FRAME_LENGTH}`);
      }
      if (length === 0) throw malformed('empty frame');
      this.need = 4 + length;
      if (left < this.need) return pos;
      const frame = decodeBody(buf.subarray(pos + 4, pos + this.need));
      if (isHandshake(frame.type) !== (this.state === 'first')) {
        throw malformed(
          `${frame.type} ${this.state === 'first' ? 'as the first' : 'after the first'} frame`,
        );
      }
      this.state = 'frames';
      frames.push(frame);
      pos += this.need;
    }
  }
}
