import { closeSync, constants, fstatSync, openSync, type Stats, statSync } from 'node:fs';
import { CodedError } from '../core/errors.js';
import { FrameDecoder } from './frame-decoder.js';
import type { Frame, HelloFrame } from './frames.js';

/**
 * Adoption: how a resumed connection stops costing a relaying process. The first connection's
 * `burrow shim --serve` hands its channel (the pipes sshd gave it) to the holder it starts; a
 * later `--serve` for the same session finds the holder running and would have to relay every
 * byte between the channel and the holder's socket. Instead, on Linux, when its stdin and stdout
 * are pipes, it opens the socket with an adoption request:
 *
 *   ADOPT_MAGIC (8 bytes) + u32 pid of the --serve, then the hello it read from the channel.
 *
 * The holder checks the hello's session id and secret first, then opens `/proc/<pid>/fd/0` and
 * `/proc/<pid>/fd/1` (the kernel lets only the same user do that) and answers one byte:
 * ADOPTED (it serves those pipes itself, and --serve only waits for the socket to close) or
 * RELAY (anything it could not check or open: --serve relays on this socket as before, and the
 * holder reads the hello as the connection's first frame). A holder that predates adoption fails
 * the magic and closes the socket; --serve then connects again and relays.
 */

/** Differs from the frame preamble's magic at its fourth byte ('a', not 'h'). */
export const ADOPT_MAGIC = Buffer.from([0x89, 0x62, 0x73, 0x61, 0x0d, 0x0a, 0x1a, 0x0a]);
export const ADOPT_REQUEST_LENGTH = ADOPT_MAGIC.length + 4;
export const ADOPTED = 0x41; // 'A'
export const RELAY = 0x52; // 'R'
/** Linux's PID_MAX_LIMIT: no pid is larger. */
const PID_MAX = 4 * 1024 * 1024;

export function encodeAdoptRequest(pid: number): Buffer {
  if (!Number.isInteger(pid) || pid < 1 || pid > PID_MAX) throw new RangeError(`pid ${pid}`);
  const b = Buffer.alloc(ADOPT_REQUEST_LENGTH);
  ADOPT_MAGIC.copy(b);
  b.writeUInt32BE(pid, ADOPT_MAGIC.length);
  return b;
}

/** How a connection to the holder's socket opens. */
export type Opening =
  /** A connection that speaks the protocol from its first byte: `head` is what came so far. */
  | { readonly kind: 'plain'; readonly head: Buffer }
  | { readonly kind: 'adopt'; readonly pid: number; readonly hello: HelloFrame };

export type OpeningErrorCode = 'read-twice' | 'bad-pid' | 'bad-frame' | 'not-one-hello';

/** An opening that is neither plain nor a well-formed adoption request. */
export class OpeningError extends CodedError<OpeningErrorCode> {
  override readonly name = 'OpeningError';
}

/**
 * Reads the opening of a socket connection (pure): push() bytes as they arrive, split anywhere;
 * it returns the Opening once it is known, and undefined until then. A connection is plain as
 * soon as a byte differs from ADOPT_MAGIC. An adoption request must be followed by exactly one
 * hello and nothing more (--serve waits for the answer before it sends anything else); anything
 * else throws OpeningError, and the connection should be closed.
 */
export class OpeningParser {
  private head = Buffer.alloc(0);
  private pid: number | undefined;
  private readonly decoder = new FrameDecoder();
  private done = false;

  push(chunk: Buffer): Opening | undefined {
    if (this.done) throw new OpeningError('read-twice', 'the opening was read already');
    if (this.pid === undefined) {
      this.head = Buffer.concat([this.head, chunk]);
      const n = Math.min(this.head.length, ADOPT_MAGIC.length);
      if (!this.head.subarray(0, n).equals(ADOPT_MAGIC.subarray(0, n))) {
        this.done = true;
        return { kind: 'plain', head: this.head };
      }
      if (this.head.length < ADOPT_REQUEST_LENGTH) return undefined;
      const pid = this.head.readUInt32BE(ADOPT_MAGIC.length);
      if (pid < 1 || pid > PID_MAX)
        throw new OpeningError('bad-pid', `adoption request for pid ${pid}`);
      this.pid = pid;
      chunk = this.head.subarray(ADOPT_REQUEST_LENGTH);
      this.head = Buffer.alloc(0);
    }
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      throw new OpeningError('bad-frame', `adoption request: ${(err as Error).message}`);
    }
    if (frames.length === 0) return undefined;
    const hello = frames[0]!;
    if (hello.type !== 'hello' || frames.length > 1 || this.decoder.bufferedBytes > 0) {
      throw new OpeningError(
        'not-one-hello',
        'an adoption request must be followed by one hello and nothing else',
      );
    }
    this.done = true;
    return { kind: 'adopt', pid: this.pid, hello };
  }
}

/** Whether fds 0 and 1 of this process are pipes: what --serve can offer for adoption. */
export function stdioArePipes(): boolean {
  if (process.platform !== 'linux') return false;
  try {
    return fstatSync(0).isFIFO() && fstatSync(1).isFIFO();
  } catch {
    return false;
  }
}

/**
 * Opens the pipes that are stdin and stdout of `pid` (non-blocking, as new open files of the same
 * pipes), or returns undefined if either is not a pipe or cannot be opened. Checks what a link
 * leads to before opening it, so nothing but a pipe is ever opened.
 */
export function openPipesOf(pid: number): { inputFd: number; outputFd: number } | undefined {
  const open = (fd: 0 | 1): number | undefined => {
    const path = `/proc/${pid}/fd/${fd}`;
    let before: Stats;
    try {
      before = statSync(path);
      if (!before.isFIFO()) return undefined;
    } catch {
      return undefined;
    }
    // libuv adds O_CLOEXEC itself: the command the holder runs never inherits these.
    const { O_RDONLY, O_WRONLY, O_NONBLOCK, O_NOCTTY } = constants;
    const flags = (fd === 0 ? O_RDONLY : O_WRONLY) | O_NONBLOCK | O_NOCTTY;
    let opened: number;
    try {
      opened = openSync(path, flags);
    } catch {
      return undefined;
    }
    // The link could have changed between the two looks (the process exited, its pid reused).
    const after = fstatSync(opened);
    if (!after.isFIFO() || after.ino !== before.ino || after.dev !== before.dev) {
      closeSync(opened);
      return undefined;
    }
    return opened;
  };
  const inputFd = open(0);
  if (inputFd === undefined) return undefined;
  const outputFd = open(1);
  if (outputFd === undefined) {
    closeSync(inputFd);
    return undefined;
  }
  return { inputFd, outputFd };
}
