import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  askPlacement,
  MAX_CANDIDATES,
  MAX_PLACEMENT_BYTES,
  PLACEMENT_TIMEOUT_MS,
  parsePlacement,
  parseRelayAddress,
  placementTimeoutMs,
  placementUrl,
} from './placement.js';

describe('parseRelayAddress', () => {
  const ok: [string, string, string, number][] = [
    ['127.0.0.1:2222', '127.0.0.1:2222', '127.0.0.1', 2222],
    ['relay-a.example.net:22', 'relay-a.example.net:22', 'relay-a.example.net', 22],
    ['[::1]:2222', '[::1]:2222', '::1', 2222],
    ['localhost:65535', 'localhost:65535', 'localhost', 65535],
  ];
  for (const [raw, id, host, port] of ok) {
    it(`accepts ${raw}`, () => assert.deepEqual(parseRelayAddress(raw), { id, host, port }));
  }
  const bad = [
    '',
    '127.0.0.1',
    '127.0.0.1:0',
    '127.0.0.1:65536',
    ':2222',
    '[nothost]:22',
    '::1:22',
    'a b:22',
    '-bad.example:22',
    'host:22/x',
    'user@host:22',
    `${'a'.repeat(300)}:22`,
    'host:022222',
  ];
  for (const raw of bad) {
    it(`refuses ${JSON.stringify(raw).slice(0, 30)}`, () =>
      assert.equal(parseRelayAddress(raw), undefined));
  }
});

describe('parsePlacement', () => {
  const relay = (i: number) => ({ id: `r${i}#n`, address: `127.0.0.1:${2000 + i}` });
  it('keeps the order, drops repeated addresses, keeps at most MAX_CANDIDATES', () => {
    const relays = [
      relay(1),
      relay(2),
      relay(1),
      ...Array.from({ length: 30 }, (_, i) => relay(i + 3)),
    ];
    const got = parsePlacement(JSON.stringify({ relays }));
    assert.ok('relays' in got);
    assert.equal(got.relays.length, MAX_CANDIDATES);
    assert.deepEqual(
      got.relays.slice(0, 3).map((r) => r.id),
      ['127.0.0.1:2001', '127.0.0.1:2002', '127.0.0.1:2003'],
    );
  });
  it('accepts an empty list and extra fields', () => {
    assert.deepEqual(parsePlacement('{"relays":[]}'), { relays: [] });
    assert.deepEqual(parsePlacement('{"relays":[{"id":"a","address":"h:1","x":1}],"v":2}'), {
      relays: [{ id: 'h:1', host: 'h', port: 1 }],
    });
  });
  const bad: [string, RegExp][] = [
    ['', /not JSON/],
    ['<html>', /not JSON/],
    ['null', /not an object/],
    ['[]', /not an object/],
    ['{}', /no "relays" list/],
    ['{"relays":{}}', /no "relays" list/],
    ['{"relays":[1]}', /relays\[0\] is not an object/],
    ['{"relays":[{"address":"h:1"}]}', /relays\[0\]\.id/],
    ['{"relays":[{"id":"","address":"h:1"}]}', /relays\[0\]\.id/],
    ['{"relays":[{"id":"a"}]}', /relays\[0\]\.address/],
    ['{"relays":[{"id":"a","address":"h:1"},{"id":"b","address":"h"}]}', /relays\[1\]\.address/],
    ['{"relays":[{"id":"a","address":22}]}', /relays\[0\]\.address/],
    [JSON.stringify({ relays: Array.from({ length: 1001 }, () => ({})) }), /more than 1000/],
  ];
  for (const [body, re] of bad) {
    it(`refuses ${body.slice(0, 50)}`, () => {
      const got = parsePlacement(body);
      assert.ok('error' in got, JSON.stringify(got));
      assert.match(got.error, re);
    });
  }
});

describe('placementTimeoutMs', () => {
  it('waits as long as a connection attempt only when there is no --relay to fall back on', () => {
    const cases: [relays: number, connectMs: number, want: number][] = [
      [1, 10_000, PLACEMENT_TIMEOUT_MS],
      [3, 500, PLACEMENT_TIMEOUT_MS],
      [0, 10_000, 10_000],
      [0, 500, PLACEMENT_TIMEOUT_MS],
    ];
    for (const [relays, connectMs, want] of cases) {
      assert.equal(
        placementTimeoutMs(relays, connectMs),
        want,
        `${relays} relays, ${connectMs} ms`,
      );
    }
  });
});

describe('placementUrl', () => {
  it('appends /v1/placement to the base path, with the name and what to avoid', () => {
    assert.equal(
      placementUrl('http://127.0.0.1:8080', 'dev1'),
      'http://127.0.0.1:8080/v1/placement?name=dev1',
    );
    assert.equal(
      placementUrl('https://c.example/burrow/', 'dev1', '[::1]:22'),
      'https://c.example/burrow/v1/placement?name=dev1&avoid=%5B%3A%3A1%5D%3A22',
    );
  });
});

describe('askPlacement against a real HTTP server', () => {
  let server: Server;
  let base = '';
  const seen: { url: string; auth: string | undefined }[] = [];
  before(async () => {
    server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', auth: req.headers.authorization });
      const q = new URL(req.url ?? '/', 'http://x').searchParams.get('name');
      switch (q) {
        case 'ok':
          res.end('{"relays":[{"id":"a#1","address":"127.0.0.1:2222"}]}');
          return;
        case 'huge':
          res.write(`{"relays":[${' '.repeat(MAX_PLACEMENT_BYTES)}`);
          res.end(']}');
          return;
        case 'slow':
          setTimeout(() => res.end('{"relays":[]}'), 2000).unref();
          return;
        case 'denied':
          res.statusCode = 401;
          res.end('{"error":{"code":"UNAUTHORIZED","message":"no"}}');
          return;
        case 'busy':
          res.statusCode = 503;
          res.end('<html>busy</html>');
          return;
        default:
          res.end('{"relays":"nope"}');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('reads a good answer, sending the token and what to avoid', async () => {
    // A bound well above the default: the first fetch() of the process loads undici, which on a
    // loaded machine can take longer than the 2 s default (the timeout is the 'slow' case's).
    const ok = { url: base, name: 'ok', token: 't0k', timeoutMs: 15_000 };
    const got = await askPlacement(ok, '127.0.0.1:9');
    assert.deepEqual(got, { relays: [{ id: '127.0.0.1:2222', host: '127.0.0.1', port: 2222 }] });
    assert.equal(seen.at(-1)?.auth, 'Bearer t0k');
    assert.equal(seen.at(-1)?.url, '/v1/placement?name=ok&avoid=127.0.0.1%3A9');
  });
  const cases: [name: string, re: RegExp][] = [
    ['huge', /longer than 65536 bytes/],
    ['slow', /did not answer within 300 ms/],
    ['denied', /refused the token \(HTTP 401 UNAUTHORIZED\)/],
    ['busy', /answered HTTP 503$/],
    ['garbage', /malformed placement answer: no "relays" list/],
  ];
  for (const [name, re] of cases) {
    it(`${name}: one error line`, async () => {
      const got = await askPlacement({ url: base, name, timeoutMs: 300 });
      assert.ok('error' in got, JSON.stringify(got));
      assert.match(got.error, re);
    });
  }
  it('an unreachable coordinator', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const got = await askPlacement({ url: `http://127.0.0.1:${port}`, name: 'ok' });
    assert.deepEqual(got, { error: 'cannot reach the coordinator: ECONNREFUSED' });
  });
});
