import { decodeKey, fingerprint, isKeyType } from './keys.js';
import { parseKeyLine } from './options.js';

/**
 * Editing an authorized_keys text without disturbing it: lines are found by the key they hold,
 * and only those lines (with the `# added … by burrow keys add` comment burrow wrote above them)
 * change. Every other byte, including each line's ending (LF or CRLF), is kept.
 */

/** Marks the comment `burrow keys add` writes above each line it adds. */
const ADDED_MARK = ' by burrow keys add: ';

/** `# added <ISO time> by burrow keys add: <fingerprint> <what it may do>` */
export function addedComment(fp: string, permits: string, at: Date): string {
  return `# added ${at.toISOString()}${ADDED_MARK}${fp} ${permits}`;
}

/** True for a comment `addedComment` wrote for the key with fingerprint `fp`. */
export function isAddedComment(raw: string, fp: string): boolean {
  const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  return /^# added \S+ by burrow keys add: /.test(text) && text.includes(`${ADDED_MARK}${fp} `);
}

/**
 * The key a line holds, also when the relay would skip the line (a bad option, say): the first
 * `key-type base64` pair that decodes. Undefined for blank and comment lines.
 */
export function keyOfLine(raw: string): Buffer | undefined {
  const parsed = parseKeyLine(raw);
  if (parsed.kind === 'blank') return undefined;
  if (parsed.kind === 'key') return parsed.key.keyBlob;
  const words = raw.trim().split(/[ \t]+/);
  for (let i = 0; i + 1 < words.length; i++) {
    // After an unparseable options field the type may follow a quote-split fragment.
    const type = words[i]!;
    if (!isKeyType(type)) continue;
    const decoded = decodeKey(type, words[i + 1]!);
    if (decoded.ok) return decoded.blob;
  }
  return undefined;
}

/** Which key a command means: its blob (from a public key) or its `SHA256:` fingerprint. */
export type KeyMatch = { blob: Buffer } | { fingerprint: string };

function matches(blob: Buffer, match: KeyMatch): boolean {
  return 'blob' in match ? blob.equals(match.blob) : fingerprint(blob) === match.fingerprint;
}

/** A text split into lines, each with its `\r` if it had one; the last is '' after a final LF. */
interface Lines {
  readonly lines: string[];
  readonly crlf: boolean;
}

function splitLines(text: string): Lines {
  const lines = text.split('\n');
  const ends = lines.length - 1;
  const crlfEnds = lines.slice(0, -1).filter((l) => l.endsWith('\r')).length;
  return { lines, crlf: ends > 0 && crlfEnds * 2 > ends };
}

/** 1-based numbers of the lines holding the key. */
export function findKeyLines(text: string, match: KeyMatch): number[] {
  const found: number[] = [];
  splitLines(text).lines.forEach((raw, i) => {
    const blob = keyOfLine(raw);
    if (blob !== undefined && matches(blob, match)) found.push(i + 1);
  });
  return found;
}

/** Indices to drop for the key lines at `indices`: each, and burrow's comment right above it. */
function withComments(lines: string[], indices: number[], fp: string): Set<number> {
  const drop = new Set<number>();
  for (const i of indices) {
    drop.add(i);
    if (i > 0 && isAddedComment(lines[i - 1]!, fp)) drop.add(i - 1);
  }
  return drop;
}

export type AddResult =
  | { ok: true; text: string; replaced: number }
  | { ok: false; lines: number[] };

/**
 * Adds `comment` and `line` for the key `blob`. When the key is already in the text: without
 * `replace`, refuses and names the lines; with it, the first of them (and burrow's comment above
 * it) is replaced in place by the new pair and the others are removed. Otherwise the pair is
 * appended, after a line ending added to a last line that had none.
 */
export function addKeyLine(
  text: string,
  blob: Buffer,
  comment: string,
  line: string,
  replace: boolean,
): AddResult {
  const found = findKeyLines(text, { blob }).map((n) => n - 1);
  if (found.length > 0 && !replace) return { ok: false, lines: found.map((i) => i + 1) };
  const { lines, crlf } = splitLines(text);
  const cr = crlf ? '\r' : '';
  const pair = [`${comment}${cr}`, `${line}${cr}`];
  if (found.length > 0) {
    const drop = withComments(lines, found, fingerprint(blob));
    const first = Math.min(...drop);
    const out = lines.flatMap((l, i) => (i === first ? pair : drop.has(i) ? [] : [l]));
    return { ok: true, text: out.join('\n'), replaced: found.length };
  }
  if (text === '') return { ok: true, text: `${pair.join('\n')}\n`, replaced: 0 };
  const last = lines.length - 1;
  const body = lines[last] === '' ? lines.slice(0, last) : lines;
  return { ok: true, text: `${[...body, ...pair].join('\n')}\n`, replaced: 0 };
}

export type RemoveResult =
  | { ok: true; text: string; removed: number; fingerprint: string }
  | { ok: false };

/**
 * Removes every line holding the key, and the `# added …` comment burrow wrote directly above
 * each. `removed` counts every line taken out, comments included.
 */
export function removeKeyLines(text: string, match: KeyMatch): RemoveResult {
  const { lines } = splitLines(text);
  const found: number[] = [];
  let fp = 'blob' in match ? fingerprint(match.blob) : match.fingerprint;
  lines.forEach((raw, i) => {
    const blob = keyOfLine(raw);
    if (blob === undefined || !matches(blob, match)) return;
    found.push(i);
    fp = fingerprint(blob);
  });
  if (found.length === 0) return { ok: false };
  const drop = withComments(lines, found, fp);
  const out = lines.filter((_l, i) => !drop.has(i));
  return { ok: true, text: out.join('\n'), removed: drop.size, fingerprint: fp };
}
