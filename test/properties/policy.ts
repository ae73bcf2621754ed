/** Properties of the authorized_keys parser and writer (src/core/policy/). */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  buildKeyLine,
  describePermits,
  findKeyLines,
  parseAuthorizedKeys,
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
