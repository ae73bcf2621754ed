/** Properties of `--registry URL` parsing (src/registry/url.ts). */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isBurrowError } from '../../src/core/errors.js';
import { maskRegistryUrl, parseRegistryUrl, type RegistryTarget } from '../../src/registry/url.js';
import { anyText, soup } from './arbitraries.js';
import { type FuzzProperty, MAX_MESSAGE, thrown } from './property.js';

const SUBJECT = 'registry/url.ts';

const WORDS = [
  'redis://',
  'rediss://',
  'redis-sentinel://',
  'memory',
  'user',
  ':',
  '@',
  '/',
  ',',
  '[',
  ']',
  '::1',
  '127.0.0.1',
  'h',
  '6379',
  '99999',
  '%',
  '%41',
  '%E0%A4%A',
  '?',
  '#',
  'mymaster',
  ' ',
];

/** A password no other part of a generated URL can contain. */
const password = fc.stringMatching(/^[A-Z]{10}$/).map((p) => `PW${p}`);
const host = fc.oneof(
  fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,20}$/),
  fc.constantFrom('127.0.0.1', '[::1]', '[2001:db8::7]'),
);
const port = fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined });
const db = fc.option(fc.nat(65535), { nil: undefined });
/** User names are percent-encoded as a URL needs. */
const user = fc.option(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }), {
  nil: undefined,
});

const hostPort = (h: string, p: number | undefined) => (p === undefined ? h : `${h}:${p}`);
const bare = (h: string) => h.replace(/^\[|\]$/g, '');
function userinfo(u: string | undefined, pw: string | undefined): string {
  if (u === undefined && pw === undefined) return '';
  return `${encodeURIComponent(u ?? '')}${pw === undefined ? '' : `:${pw}`}@`;
}
function creds(u: string | undefined, pw: string | undefined) {
  return {
    ...(u === undefined ? {} : { username: u }),
    ...(pw === undefined ? {} : { password: pw }),
  };
}

export const registryUrlProperties: FuzzProperty[] = [
  {
    subject: SUBJECT,
    name: 'parseRegistryUrl throws only CONFIG_INVALID naming --registry; maskRegistryUrl never throws',
    runs: 500,
    property: () =>
      fc.property(fc.oneof(soup(WORDS), anyText), (raw) => {
        maskRegistryUrl(raw);
        const err = thrown(() => parseRegistryUrl(raw));
        if (err === undefined) return;
        assert.ok(isBurrowError(err) && err.code === 'CONFIG_INVALID', String(err));
        assert.ok(err.message.startsWith('--registry '), err.message);
      }),
  },
  {
    subject: SUBJECT,
    name: 'redis:// and rediss:// URLs built from parts parse back to those parts',
    runs: 300,
    property: () =>
      fc.property(
        fc.boolean(),
        user,
        fc.option(password, { nil: undefined }),
        host,
        port,
        db,
        (tls, u, pw, h, p, d) => {
          const url = `redis${tls ? 's' : ''}://${userinfo(u, pw)}${hostPort(h, p)}${d === undefined ? '' : `/${d}`}`;
          const want: RegistryTarget = {
            kind: 'redis',
            tls,
            host: bare(h),
            port: p ?? 6379,
            ...creds(u === '' ? undefined : u, pw),
            db: d ?? 0,
            display: maskRegistryUrl(url),
          };
          assert.deepEqual(parseRegistryUrl(url), want);
          if (pw !== undefined) assert.ok(!maskRegistryUrl(url).includes(pw));
        },
      ),
  },
  {
    subject: SUBJECT,
    name: 'redis-sentinel:// URLs built from parts parse back to those parts',
    runs: 300,
    property: () =>
      fc.property(
        user,
        fc.option(password, { nil: undefined }),
        fc.array(fc.tuple(host, port), { minLength: 1, maxLength: 4 }),
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
        db,
        (u, pw, hosts, master, d) => {
          const list = hosts.map(([h, p]) => hostPort(h, p)).join(',');
          const url = `redis-sentinel://${userinfo(u, pw)}${list}/${encodeURIComponent(master)}${d === undefined ? '' : `/${d}`}`;
          assert.deepEqual(parseRegistryUrl(url), {
            kind: 'sentinel',
            sentinels: hosts.map(([h, p]) => ({ host: bare(h), port: p ?? 26379 })),
            master,
            ...creds(u === '' ? undefined : u, pw),
            db: d ?? 0,
            display: maskRegistryUrl(url),
          });
        },
      ),
  },
  {
    subject: SUBJECT,
    name: 'no error message carries the password, wherever the URL is wrong',
    runs: 300,
    property: () =>
      fc.property(
        fc.constantFrom('redis', 'rediss', 'redis-sentinel', 'http'),
        user,
        password,
        soup(WORDS, 6),
        (scheme, u, pw, tail) => {
          const url = `${scheme}://${encodeURIComponent(u ?? '')}:${pw}@${tail}`;
          const err = thrown(() => parseRegistryUrl(url));
          if (err === undefined) return;
          assert.ok(isBurrowError(err), String(err));
          assert.ok(!err.message.includes(pw), err.message);
          // The message quotes the (masked) URL and the part that is wrong: linear in the input.
          assert.ok(err.message.length <= MAX_MESSAGE + 2 * url.length, err.message);
        },
      ),
  },
];
