import type { Command, Option } from 'commander';
import { configError } from '../core/errors.js';

/**
 * Config files for any burrow subcommand: one setting per line, named by the subcommand's long
 * flag without `--`.
 *
 *   # a comment (only at the start of a line)
 *   relay relay1:2222,relay2:2222
 *   forward = 22=localhost:22
 *   forward 80=localhost:8080        a repeatable flag may appear on several lines
 *   accept-new                       a boolean flag alone means true; `accept-new no` means false
 *   name "value with spaces"         double quotes keep spaces; inside them only \" and \\ escape
 *
 * Error messages name the file and line and never repeat a value, which may be a secret.
 */

export interface ConfigEntry {
  readonly key: string;
  /** The value as written (quotes removed), or `true` for a key alone on its line. */
  readonly value: string | true;
  readonly line: number;
}

const KEY_RE = /^[a-z0-9][a-z0-9-]*$/;
const TRUE_WORDS = new Set(['true', 'yes', 'on', '1']);
const FALSE_WORDS = new Set(['false', 'no', 'off', '0']);

/** Every setting in `text`, in order. Throws CONFIG_INVALID `source:line: …` for a malformed line. */
export function parseConfigFile(text: string, source: string): ConfigEntry[] {
  const entries: ConfigEntry[] = [];
  text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .forEach((raw, i) => {
      const line = i + 1;
      const fail = (why: string) => configError(`${source}:${line}: ${why}`);
      const trimmed = raw.trim();
      if (trimmed === '' || trimmed.startsWith('#')) return;
      // [\s\S] and not `.`: a quoted value may hold U+2028 and U+2029, which `.` never matches.
      const m = /^([^\s=]+)\s*(=)?\s*([\s\S]*)$/.exec(trimmed);
      const key = m?.[1] ?? '';
      if (!m || !KEY_RE.test(key)) {
        throw fail(
          'expected a setting name (a flag without "--": lower-case letters, digits, "-")',
        );
      }
      const rest = m[3] ?? '';
      if (rest === '') {
        if (m[2] !== undefined) throw fail(`"${key} =" has no value`);
        entries.push({ key, value: true, line });
        return;
      }
      entries.push({ key, value: parseValue(rest, key, fail), line });
    });
  return entries;
}

function parseValue(rest: string, key: string, fail: (why: string) => Error): string {
  if (!rest.startsWith('"')) {
    if (/\s/.test(rest))
      throw fail(`the value of "${key}" contains spaces: put it in double quotes`);
    return rest;
  }
  let out = '';
  for (let i = 1; i < rest.length; i++) {
    const c = rest[i];
    if (c === '"') {
      if (i !== rest.length - 1) throw fail(`text after the closing quote of "${key}"`);
      return out;
    }
    if (c === '\\') {
      const next = rest[++i];
      if (next !== '"' && next !== '\\')
        throw fail(`only \\" and \\\\ may follow a backslash in quotes`);
      out += next;
    } else {
      out += c;
    }
  }
  throw fail(`the quoted value of "${key}" has no closing quote`);
}

/**
 * Sets `cmd`'s options from `entries`, with source `'config'`, where neither the command line nor
 * the environment set them: an option is set only if its value source is undefined or `'default'`.
 * Call it after commander has parsed argv and the environment (e.g. from a `preAction` hook), so
 * a repeatable flag given on the command line replaces the file's values instead of adding to them.
 *
 * Values stay strings for the command's own checks, except: boolean flags become booleans (true,
 * yes, on, 1 / false, no, off, 0); options with an argParser get its result, as on the command
 * line; repeatable options (variadic, or an argParser that collects) get every line's value.
 * Throws CONFIG_INVALID `source:line: …` for an unknown key, a missing or bad value, or a
 * non-repeatable key given twice. Nothing is set unless the whole file is valid.
 */
export function applyConfigFile(
  cmd: Command,
  entries: readonly ConfigEntry[],
  source: string,
): void {
  const byOption = new Map<Option, ConfigEntry[]>();
  for (const entry of entries) {
    const option = cmd.options.find((o) => o.long === `--${entry.key}`);
    if (option === undefined) {
      throw configError(
        `${source}:${entry.line}: unknown setting "${entry.key}": \`${commandPath(cmd)}\` has no --${entry.key}`,
      );
    }
    byOption.set(option, [...(byOption.get(option) ?? []), entry]);
  }
  const values: [string, unknown][] = [];
  for (const [option, list] of byOption) {
    const [first, second] = list as [ConfigEntry, ...ConfigEntry[]];
    if (second !== undefined && !isRepeatable(option, first)) {
      throw configError(
        `${source}:${second.line}: "${first.key}" was already set on line ${first.line} and takes one value`,
      );
    }
    // Folded from the default, as commander does, never from a value the command line set:
    // commander's own variadic collector appends to the previous array in place.
    let value: unknown = option.variadic && !option.parseArg ? [] : option.defaultValue;
    for (const entry of list) value = lineValue(option, entry, value, source);
    values.push([option.attributeName(), value]);
  }
  for (const [attr, value] of values) {
    const from = cmd.getOptionValueSource(attr);
    if (from === undefined || from === 'default')
      cmd.setOptionValueWithSource(attr, value, 'config');
  }
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c !== null; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** One line's contribution to an option's value, given the value so far (as commander does). */
function lineValue(option: Option, entry: ConfigEntry, previous: unknown, source: string): unknown {
  const where = `${source}:${entry.line}: ${entry.key}`;
  if (option.isBoolean() || option.negate) {
    const on = entry.value === true || TRUE_WORDS.has(entry.value.toLowerCase());
    if (!on && !(typeof entry.value === 'string' && FALSE_WORDS.has(entry.value.toLowerCase()))) {
      throw configError(`${where}: expected yes or no (true/false, on/off, 1/0)`);
    }
    return option.negate ? !on : on;
  }
  let raw: unknown = entry.value;
  if (raw === true) {
    if (option.required) throw configError(`${where}: needs a value`);
    raw = option.presetArg ?? true; // an optional value left out, as `--flag` alone on the command line
  }
  if (typeof raw !== 'string') return raw;
  if (option.parseArg) {
    try {
      return option.parseArg(raw, previous);
    } catch (err) {
      throw configError(`${where}: ${(err as Error).message}`, err);
    }
  }
  return option.variadic ? [...(previous as string[]), raw] : raw;
}

/**
 * Variadic options, and options whose argParser collects: given its own result back as the
 * previous value, it returns a longer array. Probed on a fresh array, so no default is mutated.
 */
function isRepeatable(option: Option, sample: ConfigEntry): boolean {
  if (option.variadic) return true;
  const parse = option.parseArg;
  if (parse === undefined || typeof sample.value !== 'string') return false;
  try {
    const once: unknown = parse(sample.value, []);
    const twice: unknown = parse(sample.value, once);
    return Array.isArray(once) && Array.isArray(twice) && twice.length > once.length;
  } catch {
    return true; // a value the parser rejects is reported by line when it is applied
  }
}
