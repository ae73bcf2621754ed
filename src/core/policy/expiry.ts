/**
 * `expiry-time="YYYYMMDD[HHMM[SS]]"` as OpenSSH's parse_absolute_time reads it: local time, or
 * UTC when followed by `Z` or `UTC` (either case). Unlike mktime, out-of-range fields (Feb 30,
 * 24:00) are refused instead of rolling over, and so are years before 1970 (which OpenSSH turns
 * into a time that never comes).
 */

export type ExpiryParse = { ok: true; at: number } | { ok: false };

const EXPIRY_RE = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?$/;

/** Parses an expiry time to milliseconds since the epoch (always a whole second). */
export function parseExpiryTime(text: string): ExpiryParse {
  let body = text;
  let utc = false;
  if (/z$/i.test(body) && body.length > 1) {
    utc = true;
    body = body.slice(0, -1);
  } else if (/utc$/i.test(body) && body.length > 3) {
    utc = true;
    body = body.slice(0, -3);
  }
  const m = EXPIRY_RE.exec(body);
  if (!m) return { ok: false };
  const [year, month, day, hour, minute, second] = m.slice(1).map((f) => Number(f ?? '0')) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month))
    return { ok: false };
  if (hour > 23 || minute > 59 || second > 59) return { ok: false };
  const at = utc
    ? Date.UTC(year, month - 1, day, hour, minute, second)
    : new Date(year, month - 1, day, hour, minute, second).getTime();
  // OpenSSH treats a result of 0 (the epoch itself) as a parse failure.
  return Number.isFinite(at) && at !== 0 ? { ok: true, at } : { ok: false };
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}
