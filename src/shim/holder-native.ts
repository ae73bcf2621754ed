import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { FrameDecoder } from './frame-decoder.js';
import { type Frame, MAX_FRAME_LENGTH, PREAMBLE_LENGTH } from './frames.js';
import type { HolderConn } from './holder-conn.js';
import type { ConnId, HolderEvent } from './holder-machine.js';
import { Link, type NativePeer } from './native-peer.js';
import type { NativePump } from './native-pump.js';

/**
 * The holder's connections on the native byte path (native-peer.ts): each is a Link, read by the
 * native inbound once it is the current connection. A channel's pipes (the handed-over one, or
 * those of an adopted --serve) are a Link as they are. A socket from a relaying --serve is
 * bridged: its bytes go through a pair of pipes between it and the Link (JavaScript copies them;
 * this is the rare path, where adoption was not possible).
 */

export interface NativeConns {
  /** A channel's pipes; `release` runs when the connection is closed. */
  channel(id: ConnId, fds: { readFd: number; writeFd: number }, release: () => void): HolderConn;
  /**
   * The channel the first --serve handed over: its stdio, moved off fds 0 and 1 (libuv never
   * closes those, so a freed one would be reused by a connection that could never be closed).
   */
  handover(id: ConnId, fds: { readFd: number; writeFd: number }): HolderConn;
  /**
   * A socket from a relaying --serve. `afterHandshake`: its hello was read already (in an adoption
   * request); else its first frame must be a hello, read here. `head`: bytes read from it already.
   */
  socket(id: ConnId, socket: Socket, afterHandshake: boolean, head: Buffer): HolderConn;
}

export function nativeConns(
  pump: NativePump,
  peer: NativePeer,
  dispatch: (event: HolderEvent) => void,
): NativeConns {
  const linkConn = (id: ConnId, link: Link, release: () => void): HolderConn => {
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      peer.closeLink(link);
      release();
      // As a JavaScript connection's 'close' event would: the machine hears it is gone.
      setImmediate(() => dispatch({ type: 'lost', conn: id }));
    };
    return {
      link,
      send: (frame) => link.send(frame),
      endWith: (frame) => {
        link.send(frame);
        void link.written().then(close);
      },
      close,
    };
  };
  const events = (id: ConnId, lost: () => void) => ({
    frame: (frame: Frame) => dispatch({ type: 'frame', conn: id, frame }),
    garbled: () => dispatch({ type: 'garbled', conn: id }),
    closed: lost,
    broken: lost,
  });

  const channel = (id: ConnId, fds: { readFd: number; writeFd: number }, release: () => void) => {
    let conn: HolderConn | undefined;
    const link = new Link(
      pump,
      fds,
      true,
      events(id, () => conn?.close()),
    );
    conn = linkConn(id, link, release);
    return conn;
  };
  return {
    channel,

    handover: (id, fds) =>
      channel(id, { readFd: pump.takeFd(fds.readFd), writeFd: pump.takeFd(fds.writeFd) }, () => {}),

    socket(id, socket, afterHandshake, head) {
      const [inRead, inWrite] = pump.pipe();
      const [outRead, outWrite] = pump.pipe();
      const toLink = new Socket({ fd: inWrite, readable: false, writable: true });
      const fromLink = new Socket({ fd: outRead, readable: true, writable: false });
      for (const s of [toLink, fromLink]) s.on('error', () => socket.destroy());
      let conn: HolderConn | undefined;
      const link = new Link(
        pump,
        { readFd: inRead, writeFd: outWrite },
        true,
        events(id, () => conn?.close()),
      );
      conn = {
        ...linkConn(id, link, () => {
          socket.destroy();
          toLink.destroy();
          fromLink.destroy();
        }),
        admitted: () => socket.setTimeout(0),
        // The link's end reaches the socket as its end, after the frame: then it closes.
        endWith: (frame) => {
          link.send(frame);
          void link.written().then(() => peer.closeLink(link));
        },
      };
      fromLink.pipe(socket);
      socket.once('close', () => conn.close());
      const start = (rest: Buffer) => {
        if (rest.length > 0) toLink.write(rest);
        socket.pipe(toLink);
      };
      if (afterHandshake) {
        start(head);
        return conn;
      }
      // The hello, exactly: the bytes after it are the link's.
      let buffered = head;
      let taken = false;
      const take = (chunk?: Buffer) => {
        if (taken) return;
        if (chunk) buffered = Buffer.concat([buffered, chunk]);
        const split = splitFirstFrame(buffered);
        if (split === 'more') return;
        taken = true;
        socket.off('data', take);
        let hello: Frame | undefined;
        try {
          if (split === 'bad') throw new Error('bad length');
          hello = new FrameDecoder().push(split.frame)[0];
        } catch {
          return dispatch({ type: 'garbled', conn: id });
        }
        start(split.rest);
        if (hello) dispatch({ type: 'frame', conn: id, frame: hello });
      };
      socket.on('data', take);
      setImmediate(() => take());
      return conn;
    },
  };
}

/**
 * The first frame of a connection (preamble, length, body) and what follows it: 'more' while it is
 * incomplete, 'bad' for a length no frame has.
 */
function splitFirstFrame(bytes: Buffer): { frame: Buffer; rest: Buffer } | 'more' | 'bad' {
  if (bytes.length < PREAMBLE_LENGTH + 4) return 'more';
  const length = bytes.readUInt32BE(PREAMBLE_LENGTH);
  if (length === 0 || length > MAX_FRAME_LENGTH) return 'bad';
  const end = PREAMBLE_LENGTH + 4 + length;
  if (bytes.length < end) return 'more';
  return { frame: bytes.subarray(0, end), rest: bytes.subarray(end) };
}

/** The command's stdio on pump pipes: the child's ends, to spawn with, and ours. */
export function commandPipes(pump: NativePump): {
  readonly child: [number, number, number];
  readonly stdin: number;
  readonly stdout: number;
  readonly stderr: number;
  /** Closes the child's ends (once spawned, or when it could not be). */
  closeChildEnds(): void;
} {
  const [stdinRead, stdin] = pump.pipe();
  const [stdout, stdoutWrite] = pump.pipe();
  const [stderr, stderrWrite] = pump.pipe();
  const child: [number, number, number] = [stdinRead, stdoutWrite, stderrWrite];
  return {
    child,
    stdin,
    stdout,
    stderr,
    closeChildEnds: () => {
      for (const fd of child) closeSync(fd);
    },
  };
}
