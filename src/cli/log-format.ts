/**
 * The one-line text form of log records and audit events, for a person at a terminal:
 *
 *   14:03:07.412 INFO  relay listening on 127.0.0.1:2222, host key SHA256:… policy=/etc/burrow/ak
 *   14:03:09.020 AUDIT auth.accepted conn=c1 ip=127.0.0.1 user=dev1 fp=SHA256:…
 *
 * Contract: every record becomes exactly one line. Control characters, format characters (bidi
 * overrides) and line separators anywhere in the message, keys or values are written as escapes
 * (`\n`, `\x1b`, `\u202e`), so a string an attacker chose (a user name, a request) can neither
 * start a fake line nor send an escape sequence to the terminal. A value with a space, a quote, a
 * backslash or an escaped character is double-quoted; `key=value` splits unambiguously.
 */

export type LogFormat = 'json' | 'text';
export const LOG_FORMATS: readonly LogFormat[] = ['json', 'text'];

/** Fields that say nothing to a person watching one process. */
const IGNORED = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'v', 'component']);

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;
const NAMED_ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** `s` with every unsafe character written as an escape; backslashes doubled when `quoting`. */
export function escapeText(s: string, quoting = false): string {
  const text = quoting ? s.replace(/["\\]/g, (c) => `\\${c}`) : s;
  return text.replace(UNSAFE, (c) => {
    const named = NAMED_ESCAPES[c];
    if (named) return named;
    const code = c.codePointAt(0) ?? 0;
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** A value as it appears after `key=`: bare when that is unambiguous, else double-quoted. */
export function formatValue(value: unknown): string {
  let text: string;
  if (typeof value === 'string') text = value;
  else if (value === null || value === undefined) text = String(value);
  else if (
    typeof value === 'object' &&
    typeof (value as { message?: unknown }).message === 'string'
  )
    text = (value as { message: string }).message; // an Error, or pino's serialized `err`
  else if (Array.isArray(value) && value.every((v) => typeof v !== 'object'))
    text = value.join(','); // relays=a:2222,b:2222
  else if (typeof value === 'object') text = JSON.stringify(value);
  else text = String(value);
  const bare = text !== '' && !/[\s"\\=]/.test(text) && !new RegExp(UNSAFE.source, 'u').test(text);
  return bare ? text : `"${escapeText(text, true)}"`;
}

/** `HH:MM:SS.mmm` in local time. */
export function formatClock(at: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  const ms = String(at.getMilliseconds()).padStart(3, '0');
  return `${two(at.getHours())}:${two(at.getMinutes())}:${two(at.getSeconds())}.${ms}`;
}

/** One line (newline included): time, a 5-wide label, the message, then `key=value` fields. */
export function formatLine(
  at: Date,
  label: string,
  message: string,
  fields: Record<string, unknown>,
): string {
  const parts = [formatClock(at), label.padEnd(5), escapeText(message)];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    parts.push(`${escapeText(key)}=${formatValue(value)}`);
  }
  return `${parts.join(' ')}\n`;
}

/**
 * A pino record (one parsed JSON line) as a text line. Fields pino adds (pid, hostname) are left
 * out, and so is a string field whose value the message already shows (`relay listening on
 * 127.0.0.1:2222` needs no `listen=127.0.0.1:2222`).
 */
export function formatLogRecord(record: Record<string, unknown>): string {
  const level = typeof record.level === 'number' ? record.level : 30;
  const label = LEVEL_NAMES[level] ?? `L${level}`;
  const message = typeof record.msg === 'string' ? record.msg : '';
  const at = new Date(typeof record.time === 'number' ? record.time : Date.now());
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) {
    if (IGNORED.has(key)) continue;
    if (typeof value === 'string' && value.length >= 3 && message.includes(value)) continue;
    fields[key] = value;
  }
  return formatLine(at, label, message, fields);
}

/** An audit event as a text line: the event name as the message, its fields after it. */
export function formatAuditEvent(at: Date, event: { event: string }): string {
  const { event: name, ...fields } = event;
  return formatLine(at, 'AUDIT', name, fields);
}
