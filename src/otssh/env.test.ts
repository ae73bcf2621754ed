import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { envAllowed } from './env.js';

describe('envAllowed', () => {
  const cases: [name: string, value: string, allowed: boolean][] = [
    ['LANG', 'en_US.UTF-8', true],
    ['LC_ALL', 'C', true],
    ['LC_CTYPE', 'C.UTF-8', true],
    ['TZ', 'Europe/Paris', true],
    ['COLORTERM', 'truecolor', true],
    ['PATH', '/tmp/evil', false],
    ['LD_PRELOAD', '/tmp/x.so', false],
    ['BASH_ENV', '/tmp/x', false],
    ['HOME', '/tmp', false],
    ['SHELL', '/bin/sh', false],
    ['TERM', 'xterm', false], // set by the pty request, not by env
    ['lc_all', 'C', false],
    ['LC_', 'C', false],
    ['LANG', 'a\nb', false],
    ['LANG', '\x1b[2J', false],
    ['LANG', 'x'.repeat(257), false],
    ['LANG', '', true],
  ];
  for (const [name, value, allowed] of cases) {
    it(`${name}=${JSON.stringify(value).slice(0, 20)} → ${allowed ? 'allowed' : 'refused'}`, () =>
      assert.equal(envAllowed(name, value), allowed));
  }
});
