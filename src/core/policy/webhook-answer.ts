import { fingerprint, type KeyType } from './keys.js';
import { parseRoutePattern, type RoutePattern } from './patterns.js';
import type { PolicyEntry } from './policy.js';

/**
 * The external auth webhook's wire format, pure: the request the relay POSTs for a key its policy
 * file does not list, and the strict reading of the answer.
 *
 *   request  {"fingerprint":"SHA256:…","public_key":"ssh-ed25519 AAAA…","source":"IP","user":"…"}
 *   allow    {"allow":true,"permitlisten":["NAME:PORT",…],"permitopen":["NAME:PORT",…],"ttl_s":N}
 *   deny     {"allow":false} or {"allow":false,"ttl_s":N} (a deny is cached at most 10 s)
 *
 * Contract: permitlisten/permitopen entries follow the policy file's rules exactly (the same
 * parser, `NAME:PORT` with `*`/`?` globs, default deny: absent lists permit nothing). Anything
 * else is malformed: a field that is not one of these four, a wrong type, more than
 * MAX_PATTERNS entries in a list, a ttl_s outside 1..MAX_TTL_S. A malformed answer refuses the
 * key (fail closed); its message is safe to log (it quotes at most one short entry).
 */

/** Entries per permitlisten/permitopen list in one answer. */
export const MAX_PATTERNS = 256;
/** Longest allow an answer may ask for: one day. */
export const MAX_TTL_S = 86_400;
/** A deny is never cached longer than this. */
export const MAX_DENY_TTL_S = 10;
/** `file` of the policy entries built from the webhook's answers (audit `key` field). */
export const WEBHOOK_ENTRY_FILE = 'auth-webhook';

export interface WebhookRequest {
  readonly fingerprint: string;
  readonly public_key: string;
  readonly source: string;
  readonly user: string;
}

export type WebhookAnswer =
  | {
      readonly ok: true;
      readonly allow: true;
      readonly listen: RoutePattern[];
      readonly open: RoutePattern[];
      readonly ttlMs: number;
    }
  | { readonly ok: true; readonly allow: false; readonly ttlMs: number }
  | { readonly ok: false; readonly message: string };

const FIELDS: ReadonlySet<string> = new Set(['allow', 'permitlisten', 'permitopen', 'ttl_s']);

/** What the relay sends for `keyBlob`: never more than the public key and who offered it. */
export function webhookRequest(keyBlob: Buffer, source: string, user: string): WebhookRequest {
  return {
    fingerprint: fingerprint(keyBlob),
    public_key: `${keyTypeOf(keyBlob)} ${keyBlob.toString('base64')}`,
    source,
    user,
  };
}

/** Reads a parsed JSON answer strictly (see the contract above). */
export function parseWebhookAnswer(body: unknown): WebhookAnswer {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return bad('the answer is not a JSON object');
  }
  const o = body as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!FIELDS.has(k)) return bad(`unknown field ${JSON.stringify(k.slice(0, 40))}`);
  }
  if (typeof o.allow !== 'boolean') return bad('"allow" must be true or false');
  const ttl = o.ttl_s;
  if (
    ttl !== undefined &&
    (!Number.isInteger(ttl) || (ttl as number) < 1 || (ttl as number) > MAX_TTL_S)
  ) {
    return bad(`"ttl_s" must be a whole number of seconds from 1 to ${MAX_TTL_S}`);
  }
  if (!o.allow) {
    if (o.permitlisten !== undefined || o.permitopen !== undefined) {
      return bad('a deny carries no permitlisten or permitopen');
    }
    return {
      ok: true,
      allow: false,
      ttlMs: Math.min((ttl as number) ?? MAX_DENY_TTL_S, MAX_DENY_TTL_S) * 1000,
    };
  }
  if (ttl === undefined) return bad('an allow needs "ttl_s"');
  const listen = patterns('permitlisten', o.permitlisten);
  if (typeof listen === 'string') return bad(listen);
  const open = patterns('permitopen', o.permitopen);
  if (typeof open === 'string') return bad(open);
  return { ok: true, allow: true, listen, open, ttlMs: (ttl as number) * 1000 };
}

/** The policy entry an allow stands for: what the key may register and reach, nothing more. */
export function webhookEntry(
  keyBlob: Buffer,
  answer: { readonly listen: readonly RoutePattern[]; readonly open: readonly RoutePattern[] },
): PolicyEntry {
  return {
    file: WEBHOOK_ENTRY_FILE,
    line: 0,
    keyType: keyTypeOf(keyBlob) as KeyType,
    keyBlob,
    fingerprint: fingerprint(keyBlob),
    listen: answer.listen,
    open: answer.open,
    noPortForwarding: false,
    pty: false,
  };
}

function patterns(field: string, value: unknown): RoutePattern[] | string {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return `"${field}" must be a list of "NAME:PORT" strings`;
  if (value.length > MAX_PATTERNS) return `"${field}" has more than ${MAX_PATTERNS} entries`;
  const out: RoutePattern[] = [];
  for (const item of value) {
    if (typeof item !== 'string') return `"${field}" must be a list of "NAME:PORT" strings`;
    if (item.length > 300) return `"${field}" has an entry longer than 300 characters`;
    const p = parseRoutePattern(item);
    if (!p.ok) return `${field}=${p.message}`;
    out.push(p.pattern);
  }
  return out;
}

/** The type string at the head of an SSH key blob (the blob was verified by the SSH layer). */
function keyTypeOf(blob: Buffer): string {
  const len = blob.length >= 4 ? blob.readUInt32BE(0) : 0;
  return blob.subarray(4, 4 + Math.min(len, 64)).toString('latin1');
}

function bad(message: string): WebhookAnswer {
  return { ok: false, message };
}
