/** Properties of the config file reader (src/cli/config-file.ts). */
import assert from 'node:assert/strict';
import { Command, Option } from 'commander';
import fc from 'fast-check';
import { applyConfigFile, type ConfigEntry, parseConfigFile } from '../../src/cli/config-file.js';
import { isBurrowError } from '../../src/core/errors.js';
import { anyText, lines, soup } from './arbitraries.js';
import { type FuzzProperty, MAX_MESSAGE } from './property.js';

const SUBJECT = 'cli/config-file.ts';

const WORDS = [
  ' ',
  '\t',
  '=',
  '"',
  '\\',
  '\\"',
  '\\\\',
  '#',
  '\uFEFF',
  'relay',
  'accept-new',
  'forward',
  'no',
  'yes',
  'x',
  'A-1',
];

const key = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,15}$/);
/** A value as a user writes it: anything on one line (quoted on the way out when it must be). */
const value = fc.string({ unit: 'grapheme', maxLength: 30 }).map((v) => v.replace(/[\r\n]/g, ''));

/** The line that sets `key` to `value`: bare when it can be, else double-quoted and escaped. */
function settingLine(k: string, v: string, eq: boolean): string {
  const bare = v !== '' && !/[\s"]/.test(v) && !/^=/.test(v) && v.trim() === v;
  const written = bare ? v : `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  return `${k}${eq ? ' = ' : ' '}${written}`;
}

/** A small command with one option of each kind config files set. */
function sampleCommand(): Command {
  const cmd = new Command('sample').exitOverride();
  cmd.option('--relay <list>', 'a plain value');
  cmd.option('--accept-new', 'a boolean');
  cmd.option('--no-color', 'a negated boolean');
  cmd.option('--level [n]', 'an optional value');
  cmd.addOption(
    new Option('--forward <spec>', 'a collecting, checking parser').argParser(
      (v, prev: string[] = []) => {
        if (!/^\d+=/.test(v)) throw new Error('expected PORT=HOST:PORT');
        return [...prev, v];
      },
    ),
  );
  cmd.option('--tag <tags...>', 'variadic');
  return cmd;
}

/** An error a config file may cause: CONFIG_INVALID naming the file and line, never a value. */
function checkError(err: unknown, secret?: string): void {
  if (err === undefined) return;
  assert.ok(isBurrowError(err) && err.code === 'CONFIG_INVALID', String(err));
  assert.match(err.message, /^conf:\d+: /);
  assert.ok(err.message.length <= MAX_MESSAGE, err.message);
  if (secret !== undefined) assert.ok(!err.message.includes(secret), err.message);
}

export const configFileProperties: FuzzProperty[] = [
  {
    subject: SUBJECT,
    name: 'parseConfigFile throws CONFIG_INVALID naming the line, or nothing, whatever the text',
    runs: 400,
    property: () =>
      fc.property(lines(fc.oneof(soup(WORDS), anyText)), (text) => {
        try {
          const entries = parseConfigFile(text, 'conf');
          assert.ok(entries.length <= text.split('\n').length);
        } catch (err) {
          checkError(err);
        }
      }),
  },
  {
    subject: SUBJECT,
    name: 'settings written out (quoted where needed) read back as the same keys and values',
    runs: 300,
    property: () =>
      fc.property(
        fc.array(fc.tuple(key, fc.option(value, { nil: undefined }), fc.boolean()), {
          maxLength: 10,
        }),
        (settings) => {
          const text = settings
            .map(([k, v, eq]) => (v === undefined ? k : settingLine(k, v, eq)))
            .join('\n');
          const want: ConfigEntry[] = settings.map(([k, v], i) => ({
            key: k,
            value: v ?? true,
            line: i + 1,
          }));
          assert.deepEqual(parseConfigFile(text, 'conf'), want);
        },
      ),
  },
  {
    subject: SUBJECT,
    name: 'applying any file to a command throws CONFIG_INVALID or sets options; no message repeats a value',
    runs: 300,
    property: () =>
      fc.property(
        fc.array(
          fc.tuple(
            fc.constantFrom(
              'relay',
              'accept-new',
              'color',
              'level',
              'forward',
              'tag',
              'bogus',
              'no-color',
            ),
            fc.oneof(
              fc.constant(undefined),
              fc.constantFrom('yes', 'off', '22=x:22'),
              fc.stringMatching(/^[A-Z]{12}$/),
            ),
          ),
          { maxLength: 6 },
        ),
        (settings) => {
          const text = settings.map(([k, v]) => (v === undefined ? k : `${k} ${v}`)).join('\n');
          const secrets = settings.flatMap(([, v]) =>
            v !== undefined && /^[A-Z]{12}$/.test(v) ? [v] : [],
          );
          const cmd = sampleCommand();
          cmd.parse([], { from: 'user' });
          try {
            applyConfigFile(cmd, parseConfigFile(text, 'conf'), 'conf');
          } catch (err) {
            for (const s of secrets) checkError(err, s);
            checkError(err);
          }
        },
      ),
  },
];
