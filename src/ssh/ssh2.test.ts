import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { createRequire } from 'node:module';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import type ssh2Types from 'ssh2';
import { within } from '../../test/helpers/wait.js';
import { isBurrowError } from '../core/errors.js';
import { generateEd25519 } from './openssh-format.js';
import ssh2, {
  assertSeams,
  CHANNEL_OPEN_FAILURE,
  missingSeam,
  pooledBytesServed,
  pooledRandomFill,
  type Ssh2Seams,
} from './ssh2.js';

/** Runs one ssh2 client ↔ server handshake over loopback; resolves when the client is ready. */
async function handshake(): Promise<void> {
  const server = new ssh2.Server({ hostKeys: [generateEd25519('test').privateKey] }, (conn) => {
    conn.on('authentication', (ctx) => ctx.accept());
    conn.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const client = new ssh2.Client();
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('ready', resolve).once('error', reject);
      client.connect({ host: '127.0.0.1', port, username: 'test', readyTimeout: 10_000 });
    });
  } finally {
    client.end();
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('ssh2 loader', () => {
  it('restores crypto.randomFillSync for everyone else', () => {
    const cjs = createRequire(import.meta.url)('node:crypto') as { randomFillSync: unknown };
    assert.equal(cjs.randomFillSync, randomFillSync);
    assert.notEqual(cjs.randomFillSync, pooledRandomFill);
    assert.equal(typeof ssh2.Server, 'function');
  });

  it('gives ssh2 the pooled function: its padding and KEXINIT cookies come from the pool', async () => {
    const before = pooledBytesServed();
    await handshake();
    // Nothing else in this test draws from the pool, so only ssh2 can have drawn these bytes:
    // at least both sides' KEXINIT cookies (16 bytes each), then every packet's padding.
    const drawn = pooledBytesServed() - before;
    assert.ok(drawn >= 2 * 16, `ssh2 drew only ${drawn} bytes from the pool`);
  });
});

describe('pooledRandomFill', () => {
  it('fills exactly the requested range and returns the buffer', () => {
    const buf = Buffer.alloc(64, 0xaa);
    assert.equal(pooledRandomFill(buf, 10, 16), buf);
    assert.ok(buf.subarray(0, 10).every((b) => b === 0xaa));
    assert.ok(buf.subarray(26).every((b) => b === 0xaa));
    assert.ok(!buf.subarray(10, 26).every((b) => b === 0xaa), 'range left unfilled');
  });

  it('never hands out the same bytes twice, across pool refills', () => {
    const seen = new Set<string>();
    // 70 000 draws of 16 bytes cross the 64 KiB pool boundary many times.
    for (let i = 0; i < 70_000; i++) {
      const hex = pooledRandomFill(Buffer.alloc(16)).toString('hex');
      assert.ok(!seen.has(hex), `repeated bytes at draw ${i}`);
      seen.add(hex);
    }
  });

  it('passes large or unusual requests to the real function', () => {
    const big = pooledRandomFill(Buffer.alloc(4096));
    assert.ok(big.some((b) => b !== 0));
    const typed = pooledRandomFill(new Uint32Array(8));
    assert.ok(typed.some((v) => v !== 0));
    assert.throws(() => pooledRandomFill(Buffer.alloc(8), 4, 16), RangeError);
  });
});

/** Both ends of one ssh2 connection over loopback, with the sockets each side was given. */
interface Pair {
  readonly client: ssh2Types.Client;
  readonly conn: ssh2Types.Connection;
  readonly clientSocket: Socket;
  readonly serverSocket: Socket;
}

/**
 * Connects an ssh2 client to an ssh2 server (given an accepted socket by `injectSocket`), both
 * authenticated; `duringAuth` runs on the server just before it accepts the client.
 */
async function connectPair(
  t: TestContext,
  duringAuth: (conn: ssh2Types.Connection, client: ssh2Types.Client) => void = () => {},
): Promise<Pair> {
  const server = new ssh2.Server({ hostKeys: [generateEd25519('test').privateKey] });
  const sockets = new Set<Socket>();
  const listener = createServer((sock) => {
    sockets.add(sock);
    server.injectSocket(sock);
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const client = new ssh2.Client();
  const clientSocket = connect((listener.address() as AddressInfo).port, '127.0.0.1');
  t.after(() => {
    client.destroy();
    for (const sock of sockets) sock.destroy();
    listener.close();
  });
  const serverReady = new Promise<ssh2Types.Connection>((resolve) => {
    server.on('connection', (conn) => {
      conn.on('authentication', (ctx) => {
        duringAuth(conn, client);
        ctx.accept();
      });
      conn.on('ready', () => resolve(conn));
    });
  });
  const clientReady = new Promise<void>((resolve, reject) => {
    client.once('ready', resolve).once('error', reject);
  });
  client.connect({ sock: clientSocket, username: 'test', readyTimeout: 10_000 });
  const [conn] = await within(Promise.all([serverReady, clientReady]), 10_000, 'both sides ready');
  const [serverSocket] = sockets;
  assert.ok(serverSocket, 'the listener accepted no socket');
  return { client, conn, clientSocket, serverSocket };
}

/** The first call of `event` on `emitter`, as its arguments (fails after 5 s without one). */
function nextEvent(
  emitter: { once(event: string, listener: (...args: unknown[]) => void): unknown },
  event: string,
): Promise<unknown[]> {
  const seen = new Promise<unknown[]>((resolve) => emitter.once(event, (...a) => resolve(a)));
  return within(seen, 5000, `'${event}'`);
}

describe('ssh2 seams (each exercised over a loopback connection)', () => {
  it('socket: both sides return the very socket they were given', async (t) => {
    const { client, conn, clientSocket, serverSocket } = await connectPair(t);
    assert.equal(client.socket, clientSocket);
    assert.equal(conn.socket, serverSocket);
  });

  it('isAuthenticated: false while authenticating, true once accepted, on both sides', async (t) => {
    const during: boolean[] = [];
    const { client, conn } = await connectPair(t, (c, cl) => {
      during.push(c.isAuthenticated, cl.isAuthenticated);
    });
    assert.deepEqual(during, [false, false]);
    assert.equal(conn.isAuthenticated, true);
    assert.equal(client.isAuthenticated, true);
  });

  it('sendAuthBanner: the client sees the text; refused once authenticated', async (t) => {
    const banners: string[] = [];
    const sent: boolean[] = [];
    const { client, conn } = await connectPair(t, (c, cl) => {
      cl.on('banner', (text: string) => banners.push(text));
      sent.push(c.sendAuthBanner('burrow: first\r\n'), c.sendAuthBanner('burrow: second\r\n'));
    });
    assert.deepEqual(sent, [true, true]);
    assert.deepEqual(banners, ['burrow: first\r\n', 'burrow: second\r\n']);
    assert.equal(conn.sendAuthBanner('too late'), false);
    assert.equal(client.isAuthenticated, true);
  });

  it('sendDebug / debug-message: either side hears the other', async (t) => {
    const { client, conn } = await connectPair(t);
    const atClient = nextEvent(client, 'debug-message');
    assert.equal(conn.sendDebug('burrow: forward-refused relay-draining dev1:22'), true);
    assert.deepEqual(await atClient, ['burrow: forward-refused relay-draining dev1:22', false]);
    const atServer = nextEvent(conn, 'debug-message');
    assert.equal(client.sendDebug('from the client \u00e9', true), true);
    assert.deepEqual(await atServer, ['from the client \u00e9', true]);
  });

  it('sendGlobalRequest / global-request: names ssh2 does not handle reach the other side', async (t) => {
    const { client, conn } = await connectPair(t);
    const atClient = nextEvent(client, 'global-request');
    assert.equal(conn.sendGlobalRequest('drain@burrow', false, Buffer.from('abc')), true);
    const [name, wantReply, data] = await atClient;
    assert.deepEqual([name, wantReply, String(data)], ['drain@burrow', false, 'abc']);

    const atServer = nextEvent(conn, 'global-request');
    const reply = new Promise<Error | undefined>((resolve) => {
      client.sendGlobalRequest('probe@burrow.test', true, Buffer.from([1, 2, 3]), resolve);
    });
    const [sName, sWant, sData] = await atServer;
    assert.deepEqual([sName, sWant, sData], ['probe@burrow.test', true, Buffer.from([1, 2, 3])]);
    assert.match(String(await within(reply, 5000, 'the reply')), /probe@burrow\.test refused/);
    // Replies stay paired with requests: ssh2's own forwardIn after ours gets its own answer.
    conn.on('request', (accept) => accept?.());
    const forwarded = new Promise<number | undefined>((resolve, reject) =>
      client.forwardIn('dev1', 22, (err, p) => (err ? reject(err) : resolve(p))),
    );
    const port = await within(forwarded, 5000, 'the forwardIn reply');
    assert.equal(port, 22);
  });

  it('channel-open reject(reasonCode, description): the client gets both', async (t) => {
    const { client, conn } = await connectPair(t);
    conn.on('tcpip', (_accept, reject) => {
      const withReason = reject as unknown as (code: number, description: string) => void;
      withReason(CHANNEL_OPEN_FAILURE.CONNECT_FAILED, 'burrow: dev1 is not connected');
    });
    const refused = new Promise<Error & { reason?: unknown }>((resolve) => {
      client.forwardOut('127.0.0.1', 1, 'dev1', 22, (e) => resolve(e as Error));
    });
    const err = await within(refused, 5000, 'the channel-open failure');
    assert.equal(err.reason, CHANNEL_OPEN_FAILURE.CONNECT_FAILED);
    assert.match(err.message, /burrow: dev1 is not connected/);
  });
});

describe('the seam check', () => {
  /** A prototype with `proto`'s own properties except `name`. */
  const without = (proto: object, name: string): object => {
    const { [name]: _dropped, ...rest } = Object.getOwnPropertyDescriptors(proto);
    return Object.create(null, rest);
  };
  const real: Ssh2Seams = {
    version: '1.17.0',
    clientPrototype: ssh2.Client.prototype,
    connectionPrototype: (ssh2.Server as unknown as { IncomingClient: { prototype: object } })
      .IncomingClient.prototype,
    checkIncomingData: () => undefined,
    channelOpenFailure: CHANNEL_OPEN_FAILURE,
    paddingPooled: () => true,
  };

  it('finds nothing missing in the installed, patched ssh2', () => {
    assert.equal(missingSeam(real), undefined);
  });

  const cases: [string, Partial<Ssh2Seams>][] = [
    ['Client#sendDebug', { clientPrototype: without(real.clientPrototype, 'sendDebug') }],
    [
      'Client#sendGlobalRequest',
      { clientPrototype: without(real.clientPrototype, 'sendGlobalRequest') },
    ],
    ['Client#socket', { clientPrototype: without(real.clientPrototype, 'socket') }],
    [
      'Client#isAuthenticated',
      { clientPrototype: without(real.clientPrototype, 'isAuthenticated') },
    ],
    ['Server.IncomingClient', { connectionPrototype: undefined }],
    [
      'Server.IncomingClient#sendAuthBanner',
      { connectionPrototype: without(real.connectionPrototype ?? {}, 'sendAuthBanner') },
    ],
    [
      'Server.IncomingClient#socket',
      { connectionPrototype: without(real.connectionPrototype ?? {}, 'socket') },
    ],
    ['Channel.checkIncomingData', { checkIncomingData: undefined }],
    ['CHANNEL_OPEN_FAILURE', { channelOpenFailure: undefined }],
    ['pooled packet padding', { paddingPooled: () => false }],
  ];
  for (const [seam, change] of cases) {
    it(`names ${seam} when it is missing`, () => {
      assert.equal(missingSeam({ ...real, ...change }), seam);
    });
  }

  it('throws SSH2_SEAM_MISSING with the version and the seam', () => {
    const seams = { ...real, version: '1.18.0', clientPrototype: Object.create(null) };
    assert.throws(
      () => assertSeams(seams),
      (err) =>
        isBurrowError(err) &&
        err.code === 'SSH2_SEAM_MISSING' &&
        err.message ===
          'ssh2 1.18.0: Client#sendDebug is missing; burrow needs ssh2 1.17.0 with ' +
            'patches/ssh2+1.17.0.patch applied',
    );
    assert.doesNotThrow(() => assertSeams(real));
  });
});
