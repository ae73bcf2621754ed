/**
 * Channel flow control at the relay: a peer that writes past the window the relay granted, or
 * packets larger than the maximum packet size it advertised, is disconnected and audited, and
 * the relay's memory (VmRSS of `burrow relay` as a process) stays bounded while it tries. The
 * attacker is an ssh2 client writing raw CHANNEL_DATA; the device is OpenSSH `ssh -R` serving a
 * TCP service that does not read, so the bridge behind the attacker is full.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type ssh2 from 'ssh2';
import { waitFor, withScope } from './helpers/index.js';
import { rssKiB } from './helpers/procstat.js';
import { relayClient } from './helpers/relay.js';
import {
  honestPush,
  login,
  pushPastWindow,
  sampleRss,
  startGreedyDevice,
  startWindowWorld,
  windowAttack,
} from './helpers/window-attack.js';

const MiB = 1024 * 1024;

describe('relay: channel window', () => {
  it('disconnects and audits a client writing past the window; RSS stays bounded', async (t) =>
    withScope(t, async (s) => {
      const w = await startWindowWorld(s);
      const baseline = rssKiB(w.relay.pid)!;
      const sampler = sampleRss(w.relay.pid);
      const started = Date.now();
      const result = await windowAttack({
        port: w.port,
        privateKey: w.opPrivateKey,
        bytes: 256 * MiB,
        // Not a divisor of the 2 MiB window: unpatched ssh2 dropped data only at exactly 0, so
        // a window driven below 0 buffered everything after it.
        packetBytes: 32 * 1024 - 1,
      });
      const peak = sampler.stop();
      t.diagnostic(
        `pushed ${(result.bytesPushed / MiB).toFixed(1)} MiB in ${Date.now() - started} ms; ` +
          `relay RSS ${(baseline / 1024).toFixed(0)} -> peak ${(peak / 1024).toFixed(0)} MiB`,
      );
      // Unbounded buffering would hold everything pushed (hundreds of MiB); the bridge's own
      // buffers are a few channel windows (2 MiB each).
      assert.ok(
        peak - baseline < 48 * 1024,
        `relay RSS grew ${((peak - baseline) / 1024).toFixed(0)} MiB`,
      );
      assert.ok(result.peerClosed, 'the relay kept the connection of a peer ignoring the window');
      const closed = await waitFor(
        () => w.audit('conn.closed').find((e) => e.reason === 'window-violation'),
        { what: 'conn.closed audit with reason window-violation' },
      );
      assert.equal(typeof closed.fp, 'string');
      assert.equal(w.audit('conn.closed').filter((e) => e.reason === 'window-violation').length, 1);

      // The device and the relay are unharmed: another client reaches dev1 through them.
      w.setTarget('echo');
      const op = await relayClient(s, { port: w.port, hostKeyPub: w.hostKeyPub }, w.opKey);
      const res = await op.run(['-W', 'dev1:22', 'relay'], { input: 'still here\n' });
      assert.equal(res.stdout, 'still here\n', res.stderr);
    }));

  it('disconnects and audits a client sending a packet larger than the maximum', async (t) =>
    withScope(t, async (s) => {
      const w = await startWindowWorld(s);
      // One packet, well within the 2 MiB window, but over the 32 KiB maximum packet size.
      const result = await windowAttack({
        port: w.port,
        privateKey: w.opPrivateKey,
        bytes: 33 * 1024,
        packetBytes: 33 * 1024,
      });
      assert.ok(result.peerClosed, 'the relay kept the connection of a peer over the packet size');
      await waitFor(
        () => w.audit('conn.closed').find((e) => e.reason === 'packet-size-violation'),
        { what: 'conn.closed audit with reason packet-size-violation' },
      );
      // The device's registration survives the attacker's disconnect.
      assert.equal(w.audit('name.released').length, 0);
    }));

  it('does not queue for a device that grants window but does not read its socket', async (t) =>
    withScope(t, async (s) => {
      const w = await startWindowWorld(s, { device: false });
      await startGreedyDevice(s, w.port, w.devPrivateKey);
      const baseline = rssKiB(w.relay.pid)!;
      const sampler = sampleRss(w.relay.pid);
      const pushed = await honestPush(s, {
        port: w.port,
        privateKey: w.opPrivateKey,
        bytes: 256 * MiB,
        stallMs: 1000,
      });
      const peak = sampler.stop();
      t.diagnostic(
        `client wrote ${(pushed.bytesWritten / MiB).toFixed(1)} MiB before stalling; ` +
          `relay RSS ${(baseline / 1024).toFixed(0)} -> peak ${(peak / 1024).toFixed(0)} MiB`,
      );
      // The relay sends only as fast as the device's socket takes it: the client is held back
      // by the window the relay stops granting, not by anything queued in the relay.
      assert.ok(
        peak - baseline < 48 * 1024,
        `relay RSS grew ${((peak - baseline) / 1024).toFixed(0)} MiB`,
      );
      assert.ok(pushed.stalled, 'the client wrote everything into a device that reads nothing');
    }));

  it('disconnects and audits a device writing past the window toward a client', async (t) =>
    withScope(t, async (s) => {
      const w = await startWindowWorld(s, { device: false });
      const device = await login(s, w.port, w.devPrivateKey);
      const opened = new Promise<ssh2.ClientChannel>((resolve) =>
        device.on('tcp connection', (_info, accept) => resolve(accept())),
      );
      await new Promise<void>((resolve, reject) =>
        device.forwardIn('dev1', 22, (err) => (err ? reject(err) : resolve())),
      );
      // The client reads nothing, so the relay stops granting the device window.
      const op = await login(s, w.port, w.opPrivateKey);
      const toDevice = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
        op.forwardOut('127.0.0.1', 1, 'dev1', 22, (err, ch) => (err ? reject(err) : resolve(ch))),
      );
      toDevice.pause();
      const baseline = rssKiB(w.relay.pid)!;
      const sampler = sampleRss(w.relay.pid);
      const result = await pushPastWindow(device, await opened, {
        bytes: 256 * MiB,
        packetBytes: 32 * 1024 - 1,
      });
      const peak = sampler.stop();
      t.diagnostic(
        `device pushed ${(result.bytesPushed / MiB).toFixed(1)} MiB; ` +
          `relay RSS ${(baseline / 1024).toFixed(0)} -> peak ${(peak / 1024).toFixed(0)} MiB`,
      );
      assert.ok(
        peak - baseline < 48 * 1024,
        `relay RSS grew ${((peak - baseline) / 1024).toFixed(0)} MiB`,
      );
      assert.ok(result.peerClosed, 'the relay kept the connection of a device ignoring the window');
      const closed = await waitFor(
        () => w.audit('conn.closed').find((e) => e.reason === 'window-violation'),
        { what: 'conn.closed audit with reason window-violation' },
      );
      // It was the device's connection, and its name went with it.
      const registered = w.audit('name.registered')[0]!;
      assert.equal(closed.conn, registered.conn);
      await waitFor(() => w.audit('name.released').find((e) => e.name === 'dev1'), {
        what: 'dev1 released',
      });
    }));
});
