import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBurrowError } from '../core/errors.js';
import { maskRegistryUrl, parseRegistryUrl } from './url.js';

describe('parseRegistryUrl', () => {
  const good: [string, object][] = [
    ['memory', { kind: 'memory' }],
    ['redis://127.0.0.1:6400', { kind: 'redis', tls: false, host: '127.0.0.1', port: 6400, db: 0 }],
    ['redis://cache', { kind: 'redis', tls: false, host: 'cache', port: 6379, db: 0 }],
    ['redis://cache:7000/3', { kind: 'redis', host: 'cache', port: 7000, db: 3 }],
    ['redis://cache/', { kind: 'redis', host: 'cache', db: 0 }],
    ['rediss://cache:6380', { kind: 'redis', tls: true, host: 'cache', port: 6380 }],
    ['redis://[::1]:6400', { kind: 'redis', host: '::1', port: 6400 }],
    [
      'redis://burrow:s3cr%40t@cache:6379/1',
      { kind: 'redis', username: 'burrow', password: 's3cr@t', db: 1 },
    ],
    ['redis://:pw@cache', { kind: 'redis', password: 'pw', host: 'cache' }],
    ['redis://p@ss:w@rd@cache', { username: 'p@ss', password: 'w@rd', host: 'cache' }],
    [
      'redis-sentinel://s1:26400,s2,[::1]:26401/mymaster',
      {
        kind: 'sentinel',
        sentinels: [
          { host: 's1', port: 26400 },
          { host: 's2', port: 26379 },
          { host: '::1', port: 26401 },
        ],
        master: 'mymaster',
        db: 0,
      },
    ],
    [
      'redis-sentinel://u:pw@s1:26400/mymaster/2',
      { kind: 'sentinel', username: 'u', password: 'pw', master: 'mymaster', db: 2 },
    ],
  ];
  for (const [url, want] of good) {
    it(`parses ${url}`, () => {
      const got = parseRegistryUrl(url) as unknown as Record<string, unknown>;
      for (const [k, v] of Object.entries(want)) assert.deepEqual(got[k], v, k);
    });
  }

  const bad: [string, RegExp][] = [
    ['', /expected memory, redis:\/\/, rediss:\/\/ or redis-sentinel:\/\//],
    ['memroy', /expected memory/],
    ['127.0.0.1:6379', /expected memory/],
    ['http://cache', /unknown scheme http:\/\//],
    ['redis://', /missing host/],
    ['redis://cache:0', /bad port "0"/],
    ['redis://cache:70000', /bad port "70000"/],
    ['redis://cache:x', /bad port "x"/],
    ['redis://cache/db', /bad database number "db"/],
    ['redis://cache/1/2', /at most \/db/],
    ['redis://a,b', /takes one host; use redis-sentinel/],
    ['redis://::1', /IPv6 address in brackets/],
    ['redis://ca che', /bad host "ca che"/],
    ['redis://cache?db=1', /query strings/],
    ['redis-sentinel://s1:26379', /missing the master name/],
    ['redis-sentinel://s1/m/1/2', /\/MASTER or \/MASTER\/db/],
    ['redis://u:%zz@cache', /percent-encoding/],
  ];
  for (const [url, want] of bad) {
    it(`rejects ${JSON.stringify(url)} naming --registry`, () => {
      assert.throws(
        () => parseRegistryUrl(url),
        (err: unknown) =>
          isBurrowError(err) &&
          err.code === 'CONFIG_INVALID' &&
          err.message.startsWith('--registry ') &&
          want.test(err.message),
      );
    });
  }

  it('never puts the password in an error message', () => {
    const secret = 'hunter2-SECRET';
    for (const url of [
      `redis://u:${secret}@cache:0`,
      `redis://:${secret}@cache/x`,
      `rediss://u:${secret}@a,b`,
      `redis-sentinel://u:${secret}@s1:26379`,
      `redis://u:${secret}@ca che`,
      `http://u:${secret}@cache`,
      `memcached://${secret}@cache`,
    ]) {
      assert.throws(
        () => parseRegistryUrl(url),
        (err: unknown) => {
          const text = `${(err as Error).message} ${String(err)} ${JSON.stringify(err)}`;
          return !text.includes(secret) && text.includes('***');
        },
        url,
      );
    }
  });

  it('keeps the display form masked for a valid URL', () => {
    const t = parseRegistryUrl('redis://u:topsecret@cache:6379/2');
    assert.equal(t.kind === 'redis' && t.display, 'redis://u:***@cache:6379/2');
  });
});

describe('maskRegistryUrl', () => {
  const cases: [string, string][] = [
    ['redis://cache', 'redis://cache'],
    ['redis://u@cache', 'redis://***@cache'],
    ['redis://u:pw@cache', 'redis://u:***@cache'],
    ['redis://:pw@cache/1', 'redis://:***@cache/1'],
    ['redis://u:p@w@cache', 'redis://u:***@cache'],
    ['memory', 'memory'],
  ];
  for (const [raw, want] of cases) {
    it(`${raw} → ${want}`, () => assert.equal(maskRegistryUrl(raw), want));
  }
});
