import { decodeKey, isKeyType, type KeyType } from './keys.js';
import { quote } from './quote.js';

/**
 * Tokenises one authorized_keys line the way OpenSSH does (auth2-pubkeyfile.c, sshkey.c,
 * auth-options.c): `[options] keytype base64 [comment]`. This layer knows the option vocabulary
 * and value syntax; what an option means for burrow is decided in policy.ts.
 */

/** One option as written. `name` is lower-cased and keeps a `no-` prefix; `value` is dequoted. */
export interface KeyOption {
  readonly name: string;
  readonly value?: string;
}

export interface KeyLine {
  readonly options: readonly KeyOption[];
  readonly keyType: KeyType;
  readonly keyBlob: Buffer;
  readonly comment?: string;
}

export type LineParse =
  | { kind: 'blank' }
  | { kind: 'key'; key: KeyLine }
  | { kind: 'invalid'; message: string };

export type OptionsParse = { ok: true; options: KeyOption[] } | { ok: false; message: string };

/** Flags that take no value and cannot be negated. */
const PLAIN_FLAGS: ReadonlySet<string> = new Set(['restrict', 'cert-authority']);
/** Flags that also exist with a `no-` prefix. */
const NEGATABLE_FLAGS: ReadonlySet<string> = new Set([
  'port-forwarding',
  'agent-forwarding',
  'x11-forwarding',
  'touch-required',
  'verify-required',
  'pty',
  'user-rc',
]);
/** Options written `name="value"`. */
const VALUE_OPTIONS: ReadonlySet<string> = new Set([
  'command',
  'principals',
  'from',
  'expiry-time',
  'environment',
  'permitopen',
  'permitlisten',
  'tunnel',
]);

function isFlag(name: string): boolean {
  return (
    PLAIN_FLAGS.has(name) ||
    NEGATABLE_FLAGS.has(name) ||
    (name.startsWith('no-') && NEGATABLE_FLAGS.has(name.slice(3)))
  );
}

const isBlank = (c: string | undefined): boolean => c === ' ' || c === '\t';

const NOT_A_KEY_LINE = 'not a key line (expected: [options] key-type base64-key [comment])';

/**
 * Parses one line (without its newline; a trailing CR is ignored). Blank lines and lines whose
 * first non-blank character is `#` are `blank`. A line whose first word is a key type has no
 * options; otherwise the first word (quote-aware) is the options field and a key type follows.
 */
export function parseKeyLine(line: string): LineParse {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  let at = skipBlanks(text, 0);
  if (at === text.length || text[at] === '#') return { kind: 'blank' };

  let options: KeyOption[] = [];
  const first = wordAt(text, at);
  if (!isKeyType(first)) {
    const next = wordAt(text, skipBlanks(text, at + first.length));
    if (looksLikeKeyTypeName(first) && next.startsWith('AAAA')) {
      return { kind: 'invalid', message: `unsupported key type ${quote(first)}` };
    }
    const end = endOfOptions(text, at);
    if (end === undefined) return { kind: 'invalid', message: 'unterminated quote in options' };
    const parsed = parseOptionsField(text.slice(at, end));
    if (!parsed.ok) {
      // A line with no key type anywhere is not a mistyped option; say what a line should be.
      const hasKeyType = text.split(/[\s,"=]+/).some((w) => isKeyType(w));
      return { kind: 'invalid', message: hasKeyType ? parsed.message : NOT_A_KEY_LINE };
    }
    options = parsed.options;
    at = skipBlanks(text, end);
    if (at === text.length) return { kind: 'invalid', message: 'no key after the options' };
  }

  const keyType = wordAt(text, at);
  if (!isKeyType(keyType)) {
    return { kind: 'invalid', message: `unsupported key type ${quote(keyType)}` };
  }
  at = skipBlanks(text, at + keyType.length);
  const data = wordAt(text, at);
  if (data === '') return { kind: 'invalid', message: `no key data after "${keyType}"` };
  const decoded = decodeKey(keyType, data);
  if (!decoded.ok) return { kind: 'invalid', message: decoded.message };
  const comment = text.slice(skipBlanks(text, at + data.length)).trimEnd();
  const key: KeyLine = {
    options,
    keyType,
    keyBlob: decoded.blob,
    ...(comment === '' ? {} : { comment }),
  };
  return { kind: 'key', key };
}

/**
 * Parses an options field: comma-separated `flag` or `name="value"`; inside a value `\"` is a
 * literal quote and every other character (commas, blanks, backslashes) is literal. Option names
 * are case-insensitive. Unknown options are an error, as in OpenSSH.
 */
export function parseOptionsField(field: string): OptionsParse {
  const options: KeyOption[] = [];
  let at = 0;
  while (at < field.length) {
    let end = at;
    while (end < field.length && field[end] !== '=' && field[end] !== ',') end++;
    const written = field.slice(at, end);
    const name = written.toLowerCase();
    if (name === '') return fail('empty option in the options list');
    if (field[end] === '=') {
      if (!VALUE_OPTIONS.has(name)) {
        return fail(isFlag(name) ? `option ${quote(written)} takes no value` : unknown(written));
      }
      const value = dequote(field, end + 1);
      if (value === 'no-start') return fail(`option ${quote(written)} needs a value in quotes`);
      if (value === 'no-end') return fail(`option ${quote(written)} is missing its closing quote`);
      options.push({ name, value: value.text });
      at = value.next;
    } else {
      if (VALUE_OPTIONS.has(name)) return fail(`option ${quote(written)} needs ="value"`);
      if (!isFlag(name)) return fail(unknown(written));
      options.push({ name });
      at = end;
    }
    if (at === field.length) break;
    if (field[at] !== ',') return fail(`unexpected text after option ${quote(written)}`);
    at++;
    if (at === field.length) return fail('options list ends with ","');
  }
  return { ok: true, options };
}

function fail(message: string): OptionsParse {
  return { ok: false, message };
}

function unknown(written: string): string {
  return `unknown option ${quote(written)}`;
}

/** OpenSSH opt_dequote: value starts with `"` and runs to the next `"` not preceded by `\`. */
function dequote(
  field: string,
  from: number,
): { text: string; next: number } | 'no-start' | 'no-end' {
  if (field[from] !== '"') return 'no-start';
  let text = '';
  let at = from + 1;
  while (at < field.length && field[at] !== '"') {
    if (field[at] === '\\' && field[at + 1] === '"') at++;
    text += field[at];
    at++;
  }
  if (at >= field.length) return 'no-end';
  return { text, next: at + 1 };
}

/**
 * OpenSSH sshkey_advance_past_options: the options field ends at the first blank outside double
 * quotes (`\"` never toggles quoting). Undefined when a quote is left open.
 */
function endOfOptions(text: string, from: number): number | undefined {
  let quoted = false;
  let at = from;
  for (; at < text.length && (quoted || !isBlank(text[at])); at++) {
    if (text[at] === '\\' && text[at + 1] === '"') at++;
    else if (text[at] === '"') quoted = !quoted;
  }
  return quoted ? undefined : at;
}

function skipBlanks(text: string, from: number): number {
  let at = from;
  while (isBlank(text[at])) at++;
  return at;
}

function wordAt(text: string, from: number): string {
  let end = from;
  while (end < text.length && !isBlank(text[end])) end++;
  return text.slice(from, end);
}

/** A word shaped like a key type name (`ssh-dss`, `ssh-ed25519-cert-v01@openssh.com`). */
function looksLikeKeyTypeName(word: string): boolean {
  return /^[a-z][a-z0-9-]*(?:@[a-z0-9.-]+)?$/.test(word) && word.includes('-') && !isFlag(word);
}
