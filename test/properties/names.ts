/** Properties of device names and routes (src/core/names.ts). */
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import fc from 'fast-check';
import {
  checkName,
  isInetAtonSpelling,
  parseNcExec,
  routeFromSocketPath,
} from '../../src/core/names.js';
import { anyText, deviceName, soup } from './arbitraries.js';
import { type FuzzProperty, MAX_MESSAGE } from './property.js';

const SUBJECT = 'core/names.ts';

const WORDS = [
  'a',
  'Z',
  '0',
  '9',
  '.',
  '-',
  '_',
  '*',
  ':',
  '[',
  ']',
  'x',
  '0x',
  'İ',
  'ﬁ',
  'Ａ',
  '\u0000',
];

export const namesProperties: FuzzProperty[] = [
  {
    subject: SUBJECT,
    name: 'checkName never throws; what it accepts is lower-case ASCII, no address, and accepted again as is',
    runs: 500,
    property: () =>
      fc.property(fc.oneof(soup(WORDS, 40), anyText, deviceName), (raw) => {
        const checked = checkName(raw);
        if (!checked.ok) {
          assert.ok(checked.reason.length <= MAX_MESSAGE);
          return;
        }
        const { name } = checked;
        assert.match(name, /^[a-z0-9._-]{1,253}$/);
        assert.equal(isIP(name), 0);
        assert.ok(!isInetAtonSpelling(name));
        assert.deepEqual(checkName(name), { ok: true, name });
        assert.deepEqual(checkName(name.toUpperCase()), { ok: true, name });
      }),
  },
  {
    subject: SUBJECT,
    name: 'nc -U PATH is read back as PATH, quoted or not; the socket path gives back its name',
    runs: 300,
    property: () =>
      fc.property(deviceName, fc.constantFrom('', "'", '"'), (name, q) => {
        const path = `/run/burrow/${name}.sock`;
        assert.equal(parseNcExec(`nc -U ${q}${path}${q}`), path);
        assert.deepEqual(routeFromSocketPath(path), { name, port: 22 });
      }),
  },
  {
    subject: SUBJECT,
    name: 'parseNcExec never throws; a path it finds is non-empty text of the command',
    runs: 300,
    property: () =>
      fc.property(fc.oneof(soup(['nc', ' ', '-U', "'", '"', '/x', '\t', 'ls']), anyText), (cmd) => {
        const path = parseNcExec(cmd);
        if (path === undefined) return;
        assert.ok(path.length > 0 && cmd.includes(path));
        routeFromSocketPath(path);
      }),
  },
];
