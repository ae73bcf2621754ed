import type { Readable, Writable } from 'node:stream';
import { encodeFrame, type Frame, frameParts } from './frames.js';
import type { Link } from './native-peer.js';

/**
 * A connection to the local side as holder.ts serves it, on either byte path: frames out, a last
 * frame (a refusal), closing. The native path's connections are made in holder-native.ts.
 */
export interface HolderConn {
  send(frame: Frame): void;
  /** Writes this last frame (a refusal), then ends the connection. */
  endWith(frame: Frame): void;
  close(): void;
  /** Its hello was accepted. */
  admitted?(): void;
  /** On the native path: what the inbound reads once the connection is current. */
  readonly link?: Link;
}

/** A connection on the JavaScript path: a socket from a --serve, or a channel's pipes. */
export interface JsConn {
  readonly input: Readable;
  readonly output: Writable;
  close(): void;
  admitted?(): void;
}

/** Frames written to `output`, a refusal ending it. */
export function jsConn(c: JsConn): HolderConn {
  return {
    ...c,
    send: (frame) => {
      for (const part of frameParts(frame)) c.output.write(part);
    },
    endWith: (frame) => c.output.end(encodeFrame(frame)),
  };
}
