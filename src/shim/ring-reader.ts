import { Socket } from 'node:net';
import { ReadRing } from './ring.js';

/** Largest read into a ring; the smallest worth making. */
export const RING_READ_BYTES = 1024 * 1024;
export const RING_MIN_READ = 64 * 1024;

/**
 * A readable socket on `fd` (a pipe or socket) whose reads land in `ring` instead of a new
 * Buffer each: no allocation per read, and up to a MiB per read. `onRead` gets each read as a
 * view of the ring (`inRing`: the caller releases it from the ring once done with it) or, when
 * the ring had no room, of a fresh Buffer (so reading never stops for want of room); it returns
 * false to pause the socket.
 *
 * Node asks for the buffer of the next read once at the start and then right after each read's
 * callback (not when the read happens), so exactly one region is outstanding at any time and the
 * bytes of a read are at the start of the buffer handed out before it.
 */
export function ringSocket(
  fd: number,
  ring: ReadRing,
  onRead: (chunk: Buffer, inRing: boolean) => boolean,
): Socket {
  const options = {
    fd,
    readable: true,
    writable: false,
    onread: {
      buffer: () => {
        const region = ring.region(RING_READ_BYTES);
        return region.length > 0 ? region : Buffer.allocUnsafe(RING_MIN_READ);
      },
      callback: (n: number, buf: Buffer) =>
        ring.owns(buf) ? onRead(ring.filled(n), true) : onRead(buf.subarray(0, n), false),
    },
  };
  // `onread` is accepted by the constructor since Node 12 (its types list it for connect() only).
  return new Socket(options as ConstructorParameters<typeof Socket>[0]);
}

/** Called before an asynchronous use of a chunk's memory; returns what to call when it is over. */
export type Hold = () => () => void;

/**
 * A ringSocket for a connection's input, with a ring of `capacity` bytes. `onChunk` must call
 * `hold()` for every asynchronous use of a chunk's memory (a write of a payload view) and the
 * returned function once that use is over; a read's memory is reused only after every hold on it,
 * and on every earlier read, has ended.
 */
export function ringReader(
  fd: number,
  capacity: number,
  onChunk: (chunk: Buffer, hold: Hold) => void,
): Socket {
  const ring = new ReadRing(capacity, RING_MIN_READ);
  /** Reads in ring memory not yet released, oldest first, each with its outstanding holds. */
  const reads: { bytes: number; holds: number }[] = [];
  const releaseDone = () => {
    while (reads.length > 0 && reads[0]!.holds === 0) ring.release(reads.shift()!.bytes);
  };
  return ringSocket(fd, ring, (chunk, inRing) => {
    if (!inRing) {
      onChunk(chunk, () => () => {});
      return true;
    }
    const read = { bytes: chunk.length, holds: 1 }; // held while onChunk runs
    reads.push(read);
    const hold = () => {
      read.holds++;
      let over = false;
      return () => {
        if (over) return;
        over = true;
        read.holds--;
        releaseDone();
      };
    };
    try {
      onChunk(chunk, hold);
    } finally {
      read.holds--;
      releaseDone();
    }
    return true;
  });
}
