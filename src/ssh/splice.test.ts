import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { describe, it } from 'node:test';
import { type SpliceStats, splice } from './splice.js';

/**
 * An in-memory stand-in for an ssh2 channel: writes complete slowly (like a peer whose window is
 * short), `eof()` and `close()` are recorded with how many bytes had been sent by then, and a
 * write after close never completes (as with a closed ssh2 channel).
 */
class FakeChannel extends Duplex {
  sent = 0;
  eofAt: number | undefined;
  closedAt: number | undefined;
  state = 'open';
  get outgoing() {
    return { state: this.state };
  }
  constructor(private readonly writeDelayMs: number) {
    super({ highWaterMark: 16 * 1024 });
  }
  override _read() {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void) {
    if (this.state !== 'open') return;
    setTimeout(() => {
      this.sent += chunk.length;
      cb();
    }, this.writeDelayMs);
  }
  eof() {
    this.eofAt ??= this.sent;
    this.state = 'eof';
  }
  close() {
    this.closedAt ??= this.sent;
    this.state = 'closed';
  }
  /** The peer sends `bytes`, then EOF, then closes at once (what OpenSSH does at exit). */
  async sendAndClose(bytes: number) {
    for (let n = 0; n < bytes; n += 64 * 1024) this.push(Buffer.alloc(64 * 1024, 1));
    this.push(null);
    await new Promise((r) => this.once('end', r));
    this.emit('close');
  }
}

function run(a: FakeChannel, b: FakeChannel): Promise<SpliceStats> {
  return new Promise((resolve) => splice(a, b, resolve));
}

describe('splice', () => {
  it('delivers everything a peer sent before it closed, even to a slow side', async () => {
    const client = new FakeChannel(2);
    const device = new FakeChannel(0);
    const done = run(client, device);
    await device.sendAndClose(1024 * 1024);
    const stats = await done;
    assert.equal(stats.bToA, 1024 * 1024);
    assert.equal(client.eofAt, 1024 * 1024, 'EOF overtook data');
    assert.equal(client.closedAt, 1024 * 1024, 'closed before all data was sent');
  });

  it('passes EOF both ways after the data and then closes both', async () => {
    const client = new FakeChannel(1);
    const device = new FakeChannel(1);
    const done = run(client, device);
    client.push(Buffer.alloc(100_000, 2));
    client.push(null);
    device.push(Buffer.alloc(50_000, 3));
    device.push(null);
    const stats = await done;
    assert.deepEqual([stats.aToB, stats.bToA], [100_000, 50_000]);
    assert.deepEqual([device.eofAt, client.eofAt], [100_000, 50_000]);
    assert.ok(client.closedAt !== undefined && device.closedAt !== undefined);
  });

  it('finishes when one side closes, closing the other after what was already sent', async () => {
    const client = new FakeChannel(0);
    const device = new FakeChannel(5);
    const done = run(client, device);
    client.push(Buffer.alloc(200_000, 4));
    await new Promise((r) => setImmediate(r));
    client.close();
    client.emit('close');
    const stats = await done;
    assert.equal(stats.aToB, 200_000);
    assert.equal(device.closedAt, 200_000, 'device closed before the client data reached it');
  });

  it('aborts at once and reports exactly once', async () => {
    const client = new FakeChannel(0);
    const device = new FakeChannel(0);
    let reports = 0;
    const abort = splice(client, device, () => {
      reports += 1;
    });
    abort();
    abort();
    client.emit('close');
    assert.equal(reports, 1);
    assert.ok(client.closedAt !== undefined && device.closedAt !== undefined);
  });
});
