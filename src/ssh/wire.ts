import ssh2Utils from 'ssh2/lib/protocol/utils.js';

/**
 * The one place burrow reaches into ssh2 internals: ssh2's server has no API for sending an
 * arbitrary global request, which `drain@burrow` needs. This mirrors how ssh2 itself sends its
 * keepalive ping (Protocol#ping), so the packet goes through the same cipher and the same
 * queue-during-rekey logic.
 */
// Loading utils.js takes no reference to crypto.randomFillSync (it requires the rest of ssh2
// lazily), so it may load before ssh2.ts swaps it.
const { sendPacket } = ssh2Utils;

const SSH_MSG_DEBUG = 4;
const SSH_MSG_USERAUTH_BANNER = 53;
const SSH_MSG_GLOBAL_REQUEST = 80;

interface PacketWriter {
  allocStart: number;
  alloc(len: number): Buffer;
  finalize(packet: Buffer): Buffer;
}

interface ProtocolInternals {
  _packetRW?: { write: PacketWriter };
}

/** Sends GLOBAL_REQUEST `name` with want_reply = false. Returns false if the protocol is gone. */
export function sendGlobalRequest(protocol: unknown, name: string): boolean {
  const writer = (protocol as ProtocolInternals | undefined)?._packetRW?.write;
  if (!writer) return false;
  const nameLen = Buffer.byteLength(name);
  const p = writer.allocStart;
  const packet = writer.alloc(1 + 4 + nameLen + 1);
  packet[p] = SSH_MSG_GLOBAL_REQUEST;
  packet.writeUInt32BE(nameLen, p + 1);
  packet.write(name, p + 5, nameLen, 'latin1');
  packet[p + 5 + nameLen] = 0;
  sendPacket(protocol, writer.finalize(packet));
  return true;
}

/**
 * Sends SSH_MSG_USERAUTH_BANNER carrying `message`, which OpenSSH clients print on stderr during
 * authentication (ssh2's server only sends the one banner fixed in its config). Only valid
 * before authentication has succeeded (RFC 4252 section 5.4).
 */
export function sendBanner(protocol: unknown, message: string): boolean {
  const writer = (protocol as ProtocolInternals | undefined)?._packetRW?.write;
  if (!writer) return false;
  const text = Buffer.from(message, 'utf8');
  const p = writer.allocStart;
  const packet = writer.alloc(1 + 4 + text.length + 4);
  packet[p] = SSH_MSG_USERAUTH_BANNER;
  packet.writeUInt32BE(text.length, p + 1);
  text.copy(packet, p + 5);
  packet.writeUInt32BE(0, p + 5 + text.length); // empty language tag
  sendPacket(protocol, writer.finalize(packet));
  return true;
}

/**
 * Sends SSH_MSG_DEBUG (always_display = false) carrying `message`. burrow uses it to say why a
 * request was refused, since SSH_MSG_REQUEST_FAILURE carries no reason; OpenSSH shows it with -v.
 */
export function sendDebug(protocol: unknown, message: string): boolean {
  const writer = (protocol as ProtocolInternals | undefined)?._packetRW?.write;
  if (!writer) return false;
  const text = Buffer.from(message, 'utf8');
  const p = writer.allocStart;
  const packet = writer.alloc(1 + 1 + 4 + text.length + 4);
  packet[p] = SSH_MSG_DEBUG;
  packet[p + 1] = 0;
  packet.writeUInt32BE(text.length, p + 2);
  text.copy(packet, p + 6);
  packet.writeUInt32BE(0, p + 6 + text.length); // empty language tag
  sendPacket(protocol, writer.finalize(packet));
  return true;
}

/**
 * Calls `onMessage(text)` for each SSH_MSG_DEBUG the server sends to an ssh2 client (ssh2 drops
 * them unless its own debug logging is on). Must be called after `connect()`.
 */
export function interceptDebugMessages(
  client: unknown,
  onMessage: (text: string) => void,
): boolean {
  const proto = (client as { _protocol?: { _handlers?: Record<string, unknown> } })._protocol;
  const handlers = proto?._handlers;
  if (!handlers) return false;
  handlers.DEBUG = (_p: unknown, _display: boolean, msg: unknown) => {
    if (typeof msg === 'string') onMessage(msg);
  };
  return true;
}

type GlobalRequestHandler = (p: unknown, name: string, wantReply: boolean, data: unknown) => void;

/**
 * Calls `onRequest(name)` when the server sends a global request named in `names` (ssh2's client
 * silently refuses every global request it does not know). Must be called after `connect()`,
 * which is when ssh2 creates the protocol object. Other requests keep ssh2's handling.
 */
export function interceptGlobalRequests(
  client: unknown,
  names: readonly string[],
  onRequest: (name: string) => void,
): boolean {
  const proto = (client as { _protocol?: { _handlers?: Record<string, GlobalRequestHandler> } })
    ._protocol;
  const handlers = proto?._handlers;
  const original = handlers?.GLOBAL_REQUEST;
  if (!handlers || !original) return false;
  handlers.GLOBAL_REQUEST = (p, name, wantReply, data) => {
    if (names.includes(name)) {
      onRequest(name);
      // want_reply is answered by the original handler (as a refusal) to keep reply order.
    }
    original(p, name, wantReply, data);
  };
  return true;
}
