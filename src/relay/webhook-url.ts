import { configError } from '../core/errors.js';

/**
 * The auth webhook's URL, split into what is sent and what may be shown.
 *
 * Contract: `url` carries no `user:pass@` (fetch refuses those; they become `authorization`, a
 * Basic header sent to the hook and nowhere else); `redacted` is the only form that may reach a
 * log or the audit trail: credentials become `***@`, a query string becomes `?***`, a fragment is
 * dropped. Only http: and https: are accepted.
 */
export interface WebhookTarget {
  readonly url: string;
  readonly authorization?: string;
  readonly redacted: string;
}

/** Parses `--auth-webhook`; throws CONFIG_INVALID naming the flag (and never echoing secrets). */
export function parseWebhookUrl(flag: string, text: string): WebhookTarget {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw configError(`${flag}: not a URL; give http://HOST[:PORT]/PATH or https://…`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw configError(
      `${flag}: the ${JSON.stringify(u.protocol.slice(0, 20))} scheme is not supported; use http:// or https://`,
    );
  }
  const credentials = u.username !== '' || u.password !== '';
  const authorization = credentials
    ? `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`
    : undefined;
  const redacted = `${u.protocol}//${credentials ? '***@' : ''}${u.host}${u.pathname}${u.search ? '?***' : ''}`;
  u.username = '';
  u.password = '';
  u.hash = '';
  return { url: u.toString(), redacted, ...(authorization ? { authorization } : {}) };
}
