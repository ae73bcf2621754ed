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
}

const EMPTY = Buffer.alloc(0);

/**
 * Joins two channels both ways with backpressure: a side whose peer is slow stops being read
 * (for SSH channels that withholds window, so the sender is paused end to end).
 *
 * Contract: EOF from one side is passed on only after every byte before it has been handed to
 * the other side (no truncation on half-close); when either side closes, or both directions have
 * seen EOF, both are closed; `done` is called exactly once. Never throws on peer errors.
 * Returns an abort function that closes both sides (and reports) at once; idempotent.
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
  let eofs = 0;
  let finished = false;

  const finish = () => {
    if (finished) return;
    finished = true;
    closeQuietly(a);
    closeQuietly(b);
    done({ aToB, bToA, durationMs: now() - started });
  };

  const pump = (from: ChannelLike, to: ChannelLike, count: (n: number) => void) => {
    from.on('data', (chunk: Buffer) => {
      count(chunk.length);
      if (!to.write(chunk)) from.pause();
    });
    to.on('drain', () => from.resume());
    from.once('end', () => {
      // A zero-length write completes only after every earlier write has been sent, so the EOF
      // cannot overtake data still waiting for window.
      to.write(EMPTY, () => {
        halfClose(to);
        if (++eofs === 2) finish();
      });
    });
    from.once('close', finish);
    from.on('error', finish);
    // A stream paused explicitly (e.g. while its peer was being connected) stays paused when a
    // 'data' listener is added.
    from.resume();
  };

  pump(a, b, (n) => {
    aToB += n;
  });
  pump(b, a, (n) => {
    bToA += n;
  });
  return finish;
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
