import { CodedError } from '../core/errors.js';
/**
 * The shim's frame codec (pure: no sockets, timers or fs), spoken over the ssh channel between the
 * local side and the remote `burrow shim --serve`. Big-endian throughout:
 *
 *   preamble  MAGIC "\x89bsh\r\n\x1a\n" + u16 protocol version: the first bytes each side sends on
 *             a connection. encodeFrame() puts it in front of hello, welcome and refuse (the
 *             handshake frames), which by contract are the first frame each side sends. A login
 *             banner or "burrow: command not found" fails it at its first byte (bad-magic).
 *   frame     u32 length of what follows + u8 type + fields
 *   string    u32 byte length + UTF-8;  offset  u64 below 2^53 (offsets pass 4 GiB, never 2^53)
 *
 *   1 hello    session id (16) + secret (32) + u8 mode, then for mode 0 (new): u8 command kind
 *              (0 argv, 1 subsystem) + u32 word count + strings (a subsystem is one word)
 *              + u32 resumeWindowMs + u32 bufferBytes; for mode 1 (resume): offset stdoutReceived
 *              + offset stderrReceived
 *   2 welcome  u8 resumed (0|1) + offset stdinReceived     3 refuse  u8 code + string message
 *   4 data     u8 stream + offset + payload (rest of the frame, at most MAX_DATA_PAYLOAD bytes)
 *   5 ack      u8 stream + offset                         6 eof     u8 stream + offset (final)
 *   7 exit     u8 code + string signal ("" when it exited with the code; code 0 with a signal)
 *   8 ping     u32 nonce                                  9 pong    u32 nonce
 *  10 signal   string name ("SIGINT"): the local side was signalled; the holder signals the command
 */

export const PROTOCOL_VERSION = 1;
export const MAGIC = Buffer.from([0x89, 0x62, 0x73, 0x68, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Bytes of the preamble in front of each handshake frame. */
export const PREAMBLE_LENGTH = MAGIC.length + 2;
export const MAX_DATA_PAYLOAD = 64 * 1024;
/** Largest value of a length field: a full data frame. A hello must fit in it too. */
export const MAX_FRAME_LENGTH = 1 + 1 + 8 + MAX_DATA_PAYLOAD;
/** Equal to session-dir's SESSION_ID_BYTES and SECRET_BYTES (a test checks). */
export const SESSION_ID_LENGTH = 16;
export const SECRET_LENGTH = 32;
/** A `ping` with this nonce from the local side means: exit status received, all delivered. */
export const DONE_NONCE = 0xffffffff;
/** How many of the first bytes a decoder keeps to show in a bad-magic error. */
export const SNIFF_LENGTH = 64;

export type StreamId = 0 | 1 | 2;
export const Stream = { stdin: 0, stdout: 1, stderr: 2 } as const;

export type Command =
  | { readonly kind: 'argv'; readonly argv: readonly string[] }
  | { readonly kind: 'subsystem'; readonly name: string };
export interface SessionOptions {
  /** How long the remote keeps the session for a reattach once the channel is gone. */
  readonly resumeWindowMs: number;
  /** Capacity of each of the remote's replay buffers (stdout, stderr). */
  readonly bufferBytes: number;
}
export type HelloMode =
  | { readonly kind: 'new'; readonly command: Command; readonly options: SessionOptions }
  | { readonly kind: 'resume'; readonly stdoutReceived: number; readonly stderrReceived: number };

/** A refusal's wire code is its index here + 1: append only. */
export const REFUSE_CODES = [
  'version-mismatch',
  'unknown-session',
  'bad-secret',
  'session-exists',
  'spawn-failed',
  'internal',
] as const;
export type RefuseCode = (typeof REFUSE_CODES)[number];

export type HelloFrame = { type: 'hello'; sessionId: Buffer; secret: Buffer; mode: HelloMode };
export type WelcomeFrame = { type: 'welcome'; resumed: boolean; stdinReceived: number };
export type RefuseFrame = { type: 'refuse'; code: RefuseCode; message: string };
export type DataFrame = { type: 'data'; stream: StreamId; offset: number; payload: Buffer };
export type AckFrame = { type: 'ack'; stream: StreamId; offset: number };
export type EofFrame = { type: 'eof'; stream: StreamId; offset: number };
/** Exactly one of code (0..255) and signal (a name like "SIGTERM") is non-null. */
export type ExitFrame = { type: 'exit'; code: number | null; signal: string | null };
export type PingFrame = { type: 'ping'; nonce: number };
export type PongFrame = { type: 'pong'; nonce: number };
export type SignalFrame = { type: 'signal'; name: string };
/** The first frame each side sends on a connection, and only that one. */
export type HandshakeFrame = HelloFrame | WelcomeFrame | RefuseFrame;
/** Frames that carry one stream's bytes or position. */
export type StreamFrame = DataFrame | AckFrame | EofFrame;
export type Frame = HandshakeFrame | StreamFrame | ExitFrame | PingFrame | PongFrame | SignalFrame;

const TYPES = [
  'hello',
  'welcome',
  'refuse',
  'data',
  'ack',
  'eof',
  'exit',
  'ping',
  'pong',
  'signal',
] as const;
export const DATA_TYPE = TYPES.indexOf('data') + 1;
/** u32 length + u8 type + u8 stream + u64 offset. */
const DATA_HEADER_LENGTH = 14;
export const isHandshake = (t: string) => t === 'hello' || t === 'welcome' || t === 'refuse';
const SIGNAL = /^SIG[A-Z0-9+]{1,29}$/;

export type FrameErrorCode =
  | 'bad-magic'
  | 'bad-version'
  | 'too-large'
  | 'unknown-type'
  | 'malformed';

type FrameErrorDetails = { firstBytes?: Buffer; peerVersion?: number };

/** Garbage on the wire, or a frame that cannot be encoded. The message is safe to show. */
export class FrameError extends CodedError<FrameErrorCode> {
  override readonly name = 'FrameError';
  /** bad-magic: the first bytes the decoder saw (up to SNIFF_LENGTH). */
  readonly firstBytes: Buffer | undefined;
  /** bad-version: the version the peer's preamble named. */
  readonly peerVersion: number | undefined;

  constructor(code: FrameErrorCode, message: string, extra: FrameErrorDetails = {}) {
    super(code, message);
    this.firstBytes = extra.firstBytes;
    this.peerVersion = extra.peerVersion;
  }
}

export const malformed = (why: string) =>
  new FrameError('malformed', `malformed shim frame: ${why}`);
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Checks every field of a frame (before encoding, after decoding); returns it or throws. */
function validate<F extends Frame>(f: F): F {
  const need = (ok: boolean, why: string) => {
    if (!ok) throw malformed(`${f.type}: ${why}`);
  };
  const offset = (v: number) =>
    need(Number.isSafeInteger(v) && v >= 0, `offset ${v} not in 0..2^53-1`);
  const u32 = (v: number) =>
    need(Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff, `${v} not a u32`);
  const text = (s: string) => need(Buffer.from(s).toString() === s, 'ill-formed Unicode string');
  switch (f.type) {
    case 'hello': {
      need(f.sessionId.length === SESSION_ID_LENGTH, `session id of ${f.sessionId.length} bytes`);
      need(f.secret.length === SECRET_LENGTH, `secret of ${f.secret.length} bytes`);
      const m = f.mode;
      if (m.kind === 'resume') [m.stdoutReceived, m.stderrReceived].forEach(offset);
      else {
        need(m.kind === 'new', `mode ${m.kind}`);
        const c = m.command;
        need(c.kind === 'argv' || c.kind === 'subsystem', `command kind ${c.kind}`);
        (c.kind === 'argv' ? c.argv : [c.name]).forEach(text);
        [m.options.resumeWindowMs, m.options.bufferBytes].forEach(u32);
      }
      break;
    }
    case 'welcome':
      offset(f.stdinReceived);
      break;
    case 'refuse':
      need(REFUSE_CODES.includes(f.code), `code ${f.code}`);
      text(f.message);
      break;
    case 'data':
    case 'ack':
    case 'eof':
      if (f.type === 'data' && f.payload.length > MAX_DATA_PAYLOAD) {
        const why = `data payload of ${f.payload.length} bytes exceeds ${MAX_DATA_PAYLOAD}`;
        throw new FrameError('too-large', why);
      }
      need(f.stream === 0 || f.stream === 1 || f.stream === 2, `stream id ${f.stream}`);
      offset(f.offset);
      break;
    case 'exit':
      need((f.code === null) !== (f.signal === null), 'needs exactly one of code and signal');
      if (f.code !== null)
        need(Number.isInteger(f.code) && f.code >= 0 && f.code < 256, `code ${f.code}`);
      else need(SIGNAL.test(f.signal!), `signal name ${JSON.stringify(f.signal)}`);
      break;
    case 'ping':
    case 'pong':
      u32(f.nonce);
      break;
    case 'signal':
      need(SIGNAL.test(f.name), `signal name ${JSON.stringify(f.name)}`);
      break;
    default:
      throw new FrameError('unknown-type', `unknown frame type ${(f as { type: unknown }).type}`);
  }
  return f;
}

/**
 * The bytes of one frame as pieces to write in order (a writev): a data frame is its 14-byte
 * header and the payload itself, so the bulk of a transfer is never copied. Throws FrameError.
 */
export function frameParts(frame: Frame): Buffer[] {
  if (frame.type !== 'data') return [encodeFrame(frame)];
  // The hot path of a transfer: the checks validate() makes for a data frame, without its closures.
  const { stream, offset, payload } = frame;
  if (stream !== 0 && stream !== 1 && stream !== 2) throw malformed(`data: stream id ${stream}`);
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw malformed(`data: offset ${offset} not in 0..2^53-1`);
  }
  if (payload.length > MAX_DATA_PAYLOAD) {
    throw new FrameError('too-large', `data payload of ${payload.length} bytes`);
  }
  const head = Buffer.allocUnsafe(DATA_HEADER_LENGTH);
  head.writeUInt32BE(10 + payload.length, 0);
  head[4] = DATA_TYPE;
  head[5] = stream;
  // A u64 as two u32 halves (offsets stay below 2^53): no BigInt per frame.
  head.writeUInt32BE(Math.floor(offset / 0x1_0000_0000), 6);
  head.writeUInt32BE(offset % 0x1_0000_0000, 10);
  return [head, payload];
}

/** The bytes of one frame (with the preamble for a handshake frame). Throws FrameError. */
export function encodeFrame(frame: Frame): Buffer {
  validate(frame);
  const parts: Buffer[] = [];
  const int = (bytes: 1 | 4 | 8, v: number) => {
    const b = Buffer.alloc(bytes);
    if (bytes === 8) b.writeBigUInt64BE(BigInt(v));
    else b.writeUIntBE(v, 0, bytes);
    parts.push(b);
  };
  const u8 = (v: number) => int(1, v);
  const u32 = (v: number) => int(4, v);
  const u64 = (v: number) => int(8, v);
  const str = (s: string) => {
    const b = Buffer.from(s, 'utf8');
    u32(b.length);
    parts.push(b);
  };
  switch (frame.type) {
    case 'hello': {
      parts.push(frame.sessionId, frame.secret);
      const m = frame.mode;
      if (m.kind === 'resume') {
        u8(1);
        u64(m.stdoutReceived);
        u64(m.stderrReceived);
        break;
      }
      const words = m.command.kind === 'argv' ? m.command.argv : [m.command.name];
      u8(0);
      u8(m.command.kind === 'argv' ? 0 : 1);
      u32(words.length);
      words.forEach(str);
      u32(m.options.resumeWindowMs);
      u32(m.options.bufferBytes);
      break;
    }
    case 'welcome':
      u8(frame.resumed ? 1 : 0);
      u64(frame.stdinReceived);
      break;
    case 'refuse':
      u8(REFUSE_CODES.indexOf(frame.code) + 1);
      str(frame.message);
      break;
    case 'data':
    case 'ack':
    case 'eof':
      u8(frame.stream);
      u64(frame.offset);
      if (frame.type === 'data') parts.push(frame.payload);
      break;
    case 'exit':
      u8(frame.code ?? 0);
      str(frame.signal ?? '');
      break;
    case 'signal':
      str(frame.name);
      break;
    default:
      u32(frame.nonce);
  }
  const length = 1 + parts.reduce((sum, p) => sum + p.length, 0);
  if (length > MAX_FRAME_LENGTH) {
    const why = `${frame.type} frame of ${length} bytes exceeds ${MAX_FRAME_LENGTH}`;
    throw new FrameError('too-large', why);
  }
  const pre = isHandshake(frame.type) ? PREAMBLE_LENGTH : 0;
  const head = Buffer.allocUnsafe(pre + 5);
  MAGIC.copy(head, 0, 0, pre);
  if (pre > 0) head.writeUInt16BE(PROTOCOL_VERSION, MAGIC.length);
  head.writeUInt32BE(length, pre);
  head.writeUInt8(TYPES.indexOf(frame.type) + 1, pre + 4);
  return Buffer.concat([head, ...parts], pre + 4 + length);
}

/**
 * A data frame's head (type byte, stream, offset: DATA_HEAD_LENGTH bytes), decoded with the
 * checks decodeBody() and validate() make, without their closures: the decoder's hot path.
 */
export function decodeDataHead(head: Buffer): { stream: StreamId; offset: number } {
  const stream = head[1]!;
  if (stream > 2) throw malformed(`data: stream id ${stream}`);
  const high = head.readUInt32BE(2);
  const offset = high * 0x1_0000_0000 + head.readUInt32BE(6);
  // 2^53 and above: not a safe integer (and past 2^53 not even exact).
  if (high >= 0x20_0000) throw malformed(`data: offset ${offset} not in 0..2^53-1`);
  return { stream: stream as StreamId, offset };
}

/** Type byte + stream + offset: the part of a data frame's body in front of its payload. */
export const DATA_HEAD_LENGTH = 10;

/** One frame from its body (type byte and fields, without the length). Throws FrameError. */
export function decodeBody(body: Buffer): Frame {
  let pos = 0;
  const take = (n: number) => {
    if (body.length - pos < n) throw malformed('frame ends inside a field');
    pos += n;
    return body.subarray(pos - n, pos);
  };
  const u8 = () => take(1).readUInt8(0);
  const u32 = () => take(4).readUInt32BE(0);
  // Past 2^53 Number() rounds, but never down into the safe range, so validate() still refuses it.
  const u64 = () => Number(take(8).readBigUInt64BE(0));
  const str = () => {
    try {
      return utf8.decode(take(u32()));
    } catch (err) {
      throw err instanceof FrameError ? err : malformed('string is not valid UTF-8');
    }
  };
  const flag = (what: string) => {
    const v = u8();
    if (v > 1) throw malformed(`${what} ${v}`);
    return v === 1;
  };
  const typeByte = u8();
  const type = TYPES[typeByte - 1];
  let frame: Frame;
  switch (type) {
    case 'hello': {
      const sessionId = take(SESSION_ID_LENGTH);
      const secret = take(SECRET_LENGTH);
      if (flag('hello mode')) {
        const mode: HelloMode = { kind: 'resume', stdoutReceived: u64(), stderrReceived: u64() };
        frame = { type, sessionId, secret, mode };
        break;
      }
      const subsystem = flag('command kind');
      const words: string[] = [];
      for (let n = u32(); n > 0; n--) words.push(str()); // each word takes >= 4 bytes: bounded
      if (subsystem && words.length !== 1) throw malformed(`subsystem of ${words.length} words`);
      const command: Command = subsystem
        ? { kind: 'subsystem', name: words[0]! }
        : { kind: 'argv', argv: words };
      const options = { resumeWindowMs: u32(), bufferBytes: u32() };
      frame = { type, sessionId, secret, mode: { kind: 'new', command, options } };
      break;
    }
    case 'welcome':
      frame = { type, resumed: flag('resumed flag'), stdinReceived: u64() };
      break;
    case 'refuse':
      frame = { type, code: REFUSE_CODES[u8() - 1] as RefuseCode, message: str() };
      break;
    case 'data':
      frame = { type, stream: u8() as StreamId, offset: u64(), payload: take(body.length - pos) };
      break;
    case 'ack':
    case 'eof':
      frame = { type, stream: u8() as StreamId, offset: u64() };
      break;
    case 'exit': {
      const code = u8();
      const signal = str();
      if (signal !== '' && code !== 0)
        throw malformed(`exit with code ${code} and signal ${signal}`);
      frame = signal === '' ? { type, code, signal: null } : { type, code: null, signal };
      break;
    }
    case 'ping':
    case 'pong':
      frame = { type, nonce: u32() };
      break;
    case 'signal':
      frame = { type, name: str() };
      break;
    default:
      throw new FrameError('unknown-type', `unknown shim frame type ${typeByte}`);
  }
  if (pos !== body.length)
    throw malformed(`${body.length - pos} bytes after the last field of ${type}`);
  return validate(frame);
}
