/**
 * The relay ACKs a client's first packets at once (src/ssh/quick-ack.ts, for every SSH server). A client with Nagle
 * on, as OpenSSH's `ssh -W` and `ssh -N -R` are, writes its KEXINIT and then its small ECDH init;
 * without a prompt ACK of the KEXINIT the ECDH init waits in the client's kernel for the relay's
 * delayed ACK, 40 ms. Driven here by raw bytes over a plain socket (Nagle on, Node's default),
 * timed from writing the ECDH init to the relay's KEX_ECDH_REPLY.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { quickAckAvailable } from '../src/ssh/quick-ack.js';
import { startKeyedRelay } from './helpers/heap.js';
import { within, withScope } from './helpers/index.js';
import { kexinit, packet, VERSION_LINE } from './helpers/wire-fuzz.js';
import { sshString } from './properties/arbitraries.js';

const KEXINIT = 20;
const KEX_ECDH_INIT = 30;
const KEX_ECDH_REPLY = 31;

/** Reads the relay's version line, then hands each binary packet's payload (before NEWKEYS). */
function packets(sock: Socket, onPayload: (p: Buffer) => void): void {
  let buf = Buffer.alloc(0);
  let identDone = false;
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    if (!identDone) {
      const eol = buf.indexOf('\r\n');
      if (eol < 0) return;
      buf = buf.subarray(eol + 2);
      identDone = true;
    }
    while (buf.length >= 5) {
      const len = buf.readUInt32BE(0);
      if (buf.length < 4 + len) return;
      const pad = buf[4]!;
      onPayload(buf.subarray(5, 4 + len - pad));
      buf = buf.subarray(4 + len);
    }
  });
}

/** ms from writing the ECDH init (4 ms after the KEXINIT) to the relay's reply. */
async function ecdhRoundTrip(port: number): Promise<number> {
  const sock = connect(port, '127.0.0.1');
  try {
    let gotKexinit!: () => void;
    const kexinitSeen = new Promise<void>((r) => {
      gotKexinit = r;
    });
    let replied!: (t: number) => void;
    const reply = new Promise<number>((r) => {
      replied = r;
    });
    packets(sock, (p) => {
      if (p[0] === KEXINIT) gotKexinit();
      if (p[0] === KEX_ECDH_REPLY) replied(performance.now());
    });
    sock.write(VERSION_LINE);
    await within(kexinitSeen, 10_000, "the relay's KEXINIT");
    sock.write(packet(kexinit()));
    await sleep(4);
    const { x } = generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' });
    const init = Buffer.concat([
      Buffer.from([KEX_ECDH_INIT]),
      sshString(Buffer.from(x as string, 'base64url')),
    ]);
    const t0 = performance.now();
    sock.write(packet(init));
    return (await within(reply, 10_000, "the relay's ECDH reply")) - t0;
  } finally {
    sock.destroy();
  }
}

describe('relay: prompt ACKs during the handshake', () => {
  it('answers an ECDH init sent under Nagle without a delayed-ACK stall', async (t) =>
    withScope(t, async (s) => {
      assert.ok(quickAckAvailable(), 'the native addon with quickAck loads (npm ci builds it)');
      const { relay } = await startKeyedRelay(s);
      const times: number[] = [];
      for (let i = 0; i < 5; i++) times.push(await ecdhRoundTrip(relay.port));
      t.diagnostic(`ECDH init to reply, ms: ${times.map((x) => x.toFixed(1)).join(' ')}`);
      // Delayed ACKs are at least 40 ms on Linux; the relay's own work here is about 1 ms.
      assert.ok(Math.min(...times) < 25, `fastest of 5: ${Math.min(...times).toFixed(1)} ms`);
    }));
});
