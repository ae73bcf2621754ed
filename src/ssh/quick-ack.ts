import type { Duplex } from 'node:stream';
import { loadNativePump } from '../shim/native-pump.js';

/** Reads of a connection that get a prompt ACK: its key exchange and authentication. */
const HANDSHAKE_READS = 32;

let quickAck: ((fd: number) => boolean) | null | undefined;

function loadQuickAck(): ((fd: number) => boolean) | null {
  if (quickAck === undefined) quickAck = loadNativePump().pump?.quickAck ?? null;
  return quickAck;
}

/** True where SSH servers ACK promptly (the native addon loaded and has quickAck). */
export function quickAckAvailable(): boolean {
  return loadQuickAck() !== null;
}

/**
 * ACKs a client's first packets at once, so the SSH key exchange does not wait out a delayed ACK.
 *
 * OpenSSH's `ssh` has Nagle on during the key exchange (it sets TCP_NODELAY only for an
 * interactive session, later). It writes its KEXINIT and, a few ms later, its ECDH init; the
 * server reads the KEXINIT but has nothing to send back (its own KEXINIT went out first), so the
 * server's kernel delays the ACK and the ECDH init waits under Nagle in the client's kernel until
 * it comes: 40 ms in most of the relay's connections (bench/relay.md). TCP_QUICKACK after each of a connection's first reads sends the
 * pending ACK at once. Node has no socket option for it; the shim's native addon sets it. Where
 * the addon does not load, connections behave as before.
 *
 * Contract: call after ssh2 has attached its own 'data' listener (a listener added before would
 * start the flow early); costs one setsockopt per read for the first 32 reads, then nothing.
 * The fd is read from the socket's handle (`_handle.fd`: Node has no public accessor); a stream
 * without one (a channel a relay forwarded) is left as it is.
 */
export function ackHandshakePromptly(socket: Duplex): void {
  const set = loadQuickAck();
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (!set || typeof fd !== 'number' || fd < 0) return;
  let left = HANDSHAKE_READS;
  const onData = () => {
    set(fd);
    left -= 1;
    if (left === 0) socket.off('data', onData);
  };
  socket.on('data', onData);
}
