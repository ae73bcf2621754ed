/** Properties of the authorized_keys parser and writer (src/core/policy/). */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  addedComment,
  addKeyLine,
  buildKeyLine,
  describePermits,
  findKeyLines,
  fingerprint,
  formatIp,
  type IpAddress,
  matchAddressList,
  parseAddressPatternList,
  parseAuthorizedKeys,
  parseIp,
  parsePublicKey,
  removeKeyLines,
} from '../../src/core/policy/index.js';
import { anyText, deviceName, keyBlob, lines, soup } from './arbitraries.js';
import { type FuzzProperty, MAX_MESSAGE } from './property.js';

const SUBJECT = 'core/policy';

/** Words of the authorized_keys grammar, so generated lines get past the tokeniser. */
const WORDS = [
  ' ',
  '\t',
  ',',
  '"',
  '\\"',
  '=',
  '#',
  'permitlisten="dev1:22"',
  'permitopen="*:*"',
  'permitopen=',
  'from="10.0.0.0/8,!10.1.*"',
  'from="::1/129"',
  'expiry-time="20300101Z"',
  'expiry-time="99999999"',
  'no-port-forwarding',
  'restrict',
  'pty',
  'command="x"',
  'principals="a"',
  'cert-authority',
  'tunnel="any"',
  'environment="A=1"',
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ssh-dss',
  'AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl',
  'AAAA',
  '====',
  'AAAAB3NzaC1yc2EAAAADAQABAAABAQ',
];

const keyLineText = soup(WORDS);

/** A route pattern as `burrow keys add --listen/--open` takes it, valid or not. */
const routeText = fc.oneof(
  fc.tuple(deviceName, fc.integer({ min: 1, max: 65535 })).map(([n, p]) => `${n}:${p}`),
  fc.constantFrom('*:22', 'dev?:*', 'dev1:0', 'dev1', ':22', 'a"b:22', 'x y:22', 'dev1:99999'),
  fc.string({ maxLength: 20 }),
);
const fromText = fc.oneof(
  fc.constantFrom('10.0.0.0/8', '127.0.0.1,!10.*', '::1', '2001:db8::/32', '10.0.0.1/8'),
  fc.string({ maxLength: 20 }),
);
const expiryText = fc.oneof(
  fc.constantFrom('20300101', '20300101Z', '203001011200', '20300230', '19691231Z'),
  fc.string({ maxLength: 14 }),
);
/** A comment as ssh-keygen writes one: printable, no blanks at its ends. */
const commentText = fc
  .string({ unit: 'grapheme', maxLength: 30 })
  .map((c) => c.replace(/[\r\n]/g, '').trim());

export const policyProperties: FuzzProperty[] = [
  {
    subject: SUBJECT,
    name: 'parseAuthorizedKeys never throws; one result per line at most; messages are bounded',
    runs: 300,
    property: () =>
      fc.property(lines(fc.oneof(keyLineText, anyText)), (text) => {
        const { entries, errors } = parseAuthorizedKeys(text, 'keys');
        assert.ok(entries.length + errors.length <= text.split('\n').length);
        for (const e of errors) {
          assert.ok(e.message.length <= MAX_MESSAGE, e.message);
          assert.equal(e.message, `keys:${e.line}: ${e.reason}`);
        }
        for (const entry of entries) describePermits(entry);
      }),
  },
  {
    subject: SUBJECT,
    name: 'buildKeyLine never throws, and the line it builds loads with exactly those permits',
    runs: 200,
    property: () =>
      fc.property(
        keyBlob,
        commentText,
        fc.array(routeText, { maxLength: 3 }),
        fc.array(routeText, { maxLength: 3 }),
        fc.option(fromText, { nil: undefined }),
        fc.option(expiryText, { nil: undefined }),
        ({ type, blob }, comment, listen, open, from, expiry) => {
          const parsed = parsePublicKey(`${type} ${blob.toString('base64')} ${comment}`);
          assert.ok(parsed.ok, parsed.ok ? '' : parsed.message);
          assert.deepEqual(parsed.key.keyBlob, blob);
          assert.equal(parsed.key.comment, comment === '' ? undefined : comment);
          const built = buildKeyLine(parsed.key, {
            listen,
            open,
            ...(from === undefined ? {} : { from }),
            ...(expiry === undefined ? {} : { expiry }),
          });
          if (!built.ok) {
            assert.ok(built.message.length <= MAX_MESSAGE);
            return;
          }
          const { entries, errors } = parseAuthorizedKeys(built.line, 'new');
          assert.deepEqual(errors, []);
          assert.equal(entries.length, 1);
          const entry = entries[0]!;
          assert.deepEqual(entry.keyBlob, blob);
          assert.equal(entry.listen.length, listen.length);
          assert.equal(entry.open.length, open.length);
          assert.equal(entry.from?.text, from);
          assert.deepEqual(findKeyLines(built.line, { blob }), [1]);
          const removed = removeKeyLines(`# head\n${built.line}\n`, { blob });
          assert.ok(removed.ok);
        },
      ),
  },
  {
    subject: SUBJECT,
    name: 'parsePublicKey never throws and refuses what is not one public key line',
    runs: 300,
    property: () =>
      fc.property(fc.oneof(keyLineText, lines(keyLineText), anyText), (text) => {
        const parsed = parsePublicKey(text);
        if (!parsed.ok) assert.ok(parsed.message.length <= MAX_MESSAGE, parsed.message);
        else assert.ok(text.includes(parsed.key.keyBlob.toString('base64')));
      }),
  },
];

/** An address as bytes: IPv4, or IPv6 other than the IPv4-mapped block (which reads as IPv4). */
const ipAddress: fc.Arbitrary<IpAddress> = fc.oneof(
  fc.uint8Array({ minLength: 4, maxLength: 4 }).map((bytes) => ({ family: 4 as const, bytes })),
  fc
    .tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.nat(15), fc.nat(16))
    .map(([b, from, zeros]) => {
      // Runs of zero words, so that the :: and ::a.b.c.d forms come up often.
      const bytes = Uint8Array.from(b);
      bytes.fill(0, from, Math.min(16, from + zeros));
      return { family: 6 as const, bytes };
    })
    .filter(({ bytes }) => !bytes.subarray(0, 12).every((x, i) => x === (i < 10 ? 0 : 0xff))),
);

/** The first `bits` bits of `ip`, the rest zero. */
function masked(ip: IpAddress, bits: number): IpAddress {
  const bytes = ip.bytes.map(
    (b, i) => b & ((0xff00 >> Math.max(0, Math.min(8, bits - i * 8))) & 0xff),
  );
  return { family: ip.family, bytes };
}

function samePrefix(a: IpAddress, b: IpAddress, bits: number): boolean {
  if (a.family !== b.family) return false;
  for (let i = 0; i < bits; i++) {
    const bit = (x: Uint8Array) => (x[i >> 3]! >> (7 - (i & 7))) & 1;
    if (bit(a.bytes) !== bit(b.bytes)) return false;
  }
  return true;
}

policyProperties.push(
  {
    subject: SUBJECT,
    name: 'formatIp writes an address that parseIp reads back as the same bytes',
    runs: 500,
    property: () =>
      fc.property(ipAddress, (ip) => {
        const text = formatIp(ip);
        assert.deepEqual(parseIp(text), { family: ip.family, bytes: Uint8Array.from(ip.bytes) });
        assert.equal(formatIp(parseIp(text)!), text);
      }),
  },
  {
    subject: SUBJECT,
    name: 'from="NET/BITS" matches exactly the addresses whose first BITS bits are those of NET',
    runs: 500,
    property: () =>
      fc.property(ipAddress, ipAddress, fc.nat(128), fc.boolean(), (net, source, n, negate) => {
        const bits = n % ((net.family === 4 ? 32 : 128) + 1);
        const block = masked(net, bits);
        const parsed = parseAddressPatternList(`${negate ? '!' : ''}${formatIp(block)}/${bits}`);
        assert.ok(parsed.ok, parsed.ok ? '' : parsed.message);
        const inside = samePrefix(block, source, bits);
        const want = inside ? (negate ? 'negated' : 'match') : 'no-match';
        assert.equal(matchAddressList(parsed.list, formatIp(source)), want);
      }),
  },
  {
    subject: SUBJECT,
    name: 'a key line added to any file and removed again leaves the file as it was',
    runs: 300,
    property: () =>
      fc.property(lines(fc.oneof(keyLineText, anyText)), keyBlob, (text, { type, blob }) => {
        const fp = fingerprint(blob);
        const line = `permitlisten="dev1:22" ${type} ${blob.toString('base64')}`;
        const comment = addedComment(fp, 'listen dev1:22', new Date(0));
        const added = addKeyLine(text, blob, comment, line, false);
        assert.ok(added.ok);
        assert.equal(findKeyLines(added.text, { blob }).length, 1);
        assert.equal(addKeyLine(added.text, blob, comment, line, false).ok, false);
        const removed = removeKeyLines(added.text, { fingerprint: fp });
        assert.ok(removed.ok && removed.removed === 2);
        const want = text === '' || text.endsWith('\n') ? text : `${text}\n`;
        assert.equal(removed.text, want);
      }),
  },
);
