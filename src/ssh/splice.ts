import type { Duplex } from 'node:stream';

/** Totals for one spliced pair, reported once when both sides are closed. */
export interface SpliceStats {
  /** Bytes read from `a` and written to `b`. */
  readonly aToB: number;
  readonly bToA: number;
  readonly durationMs: number;
}

/** SSH channels can half-close (EOF) and close separately; plain streams fall back to end/destroy. */
interface ChannelLike extends Duplex {
  eof?: () => void;
  close?: () => void;
  outgoing?: { state?: string };
}

/** One direction of the splice: what has been passed on from `from` to `to`. */
interface Direction {
  /** A flush of `to` is under way (everything read from `from` is being handed over). */
  flushing: boolean;
  /** `from` ended and `to` has been given EOF after all of `from`'s data. */
  eofSent: boolean;
  /** `from` closed while a flush was under way: close everything once it completes. */
  closeAfterFlush: boolean;
}

const EMPTY = Buffer.alloc(0);

/**
 * Joins two channels both ways with backpressure: a side whose peer is slow stops being read
 * (for SSH channels that withholds window, so the sender is paused end to end).
 *
 * Contract: nothing read from one side is dropped. EOF from one side is passed on only after
 * every byte before it has been handed to the other side; when one side closes, what it sent is
 * still delivered to the other side before that is closed too. Both sides are closed once both
 * directions have seen EOF or either side has closed; `done` is called exactly once. Never
 * throws on peer errors. Returns an abort function that closes both sides (and reports) at once,
 * for when a whole connection is gone; idempotent.
 */
export function splice(
  a: Duplex,
  b: Duplex,
  done: (stats: SpliceStats) => void,
  now: () => number = Date.now,
): () => void {
  const started = now();
  let aToB = 0;
  let bToA = 0;
  let finished = false;
  const ab: Direction = { flushing: false, eofSent: false, closeAfterFlush: false };
  const ba: Direction = { flushing: false, eofSent: false, closeAfterFlush: false };

  const finish = () => {
    if (finished) return;
    finished = true;
    closeQuietly(a);
    closeQuietly(b);
    done({ aToB, bToA, durationMs: now() - started });
  };

  const pump = (from: ChannelLike, to: ChannelLike, dir: Direction, count: (n: number) => void) => {
    from.on('data', (chunk: Buffer) => {
      count(chunk.length);
      if (!to.write(chunk)) from.pause();
    });
    to.on('drain', () => from.resume());
    from.once('end', () => {
      dir.flushing = true;
      flush(to, () => {
        dir.flushing = false;
        halfClose(to);
        dir.eofSent = true;
        if (dir.closeAfterFlush || (ab.eofSent && ba.eofSent)) finish();
      });
    });
    from.once('close', () => {
      // `from`'s peer is gone. What it sent must still reach `to`, then everything closes.
      if (dir.eofSent) finish();
      else if (dir.flushing) dir.closeAfterFlush = true;
      else {
        dir.flushing = true;
        flush(to, finish);
      }
    });
    from.on('error', finish);
    // A stream paused explicitly (e.g. while its peer was being connected) stays paused when a
    // 'data' listener is added.
    from.resume();
  };

  pump(a, b, ab, (n) => {
    aToB += n;
  });
  pump(b, a, ba, (n) => {
    bToA += n;
  });
  return finish;
}

/**
 * Calls `then` once everything written to `s` so far has been handed on (a zero-length write
 * completes only after every earlier write), or at once if `s` can no longer send: a closed SSH
 * channel never completes a write, so waiting on one would never end.
 */
function flush(s: ChannelLike, then: () => void): void {
  const state = s.outgoing?.state;
  if (s.destroyed || s.writableEnded || (state !== undefined && state !== 'open')) {
    then();
    return;
  }
  s.write(EMPTY, () => then());
}

function halfClose(s: ChannelLike): void {
  try {
    if (typeof s.eof === 'function') s.eof();
    else s.end();
  } catch {
    // peer already gone
  }
}

function closeQuietly(s: ChannelLike): void {
  try {
    if (typeof s.close === 'function') s.close();
    else s.destroy();
  } catch {
    // peer already gone
  }
}
