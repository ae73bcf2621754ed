import type { Logger } from 'pino';
import type { AuditSink } from '../audit/audit.js';
import type { PolicyEntry } from '../core/policy/index.js';
import {
  parseWebhookAnswer,
  type WebhookAnswer,
  webhookEntry,
  webhookRequest,
} from '../core/policy/webhook-answer.js';
import { readBodyUpTo } from '../streams/bounded-body.js';
import type { PolicyView } from './revocation.js';
import { WebhookCache } from './webhook-cache.js';
import type { WebhookTarget } from './webhook-url.js';

/**
 * The external auth webhook (`--auth-webhook URL`): asked about keys the policy file does not
 * list. The file is always asked first and a key it lists is judged by the file alone (`over`).
 *
 * Contract:
 * - `login` answers from a fresh cached answer, else POSTs the public key, its fingerprint, the
 *   source address and the user name (never anything secret) and waits at most `timeoutMs` for
 *   the whole exchange. Concurrent logins of one key share one request (single flight).
 * - Fail closed: a timeout, a network error, a non-2xx status, an answer over `maxBodyBytes` or
 *   one that is not valid (webhook-answer.ts) refuses the key. The hook failing is audited once
 *   per outage (`webhook.failed`, then `webhook.restored` with the count), never per request.
 * - Live connections: an allow is a lease of ttl_s. When it runs out and the key still has
 *   connections open, the hook is asked again: a new allow replaces the lease (the relay re-judges
 *   the connections: names the new lists no longer permit are released, as after a policy
 *   reload), a deny closes them (`key-revoked`), and no usable answer keeps the last allow for the
 *   open connections (like a policy file that cannot be read) while new logins are refused; it is
 *   asked again every RETRY_MS. An allow no connection uses is dropped when it runs out.
 * - `onChange` listeners run after any answer that changed a key's live entry.
 */

export type WebhookRefusal =
  | 'webhook-denied'
  | 'webhook-timeout'
  | 'webhook-unreachable'
  | 'webhook-status'
  | 'webhook-malformed';

export type HookVerdict = { ok: true; entry: PolicyEntry } | { ok: false; reason: WebhookRefusal };

export interface AuthWebhookConfig {
  readonly target: WebhookTarget;
  readonly timeoutMs: number;
  /** Answers larger than this are malformed [64 KiB]. */
  readonly maxBodyBytes?: number;
  readonly maxAllows?: number;
  readonly maxDenies?: number;
}

export interface AuthWebhookDeps {
  readonly audit: AuditSink;
  readonly log: Logger;
  readonly now?: () => number;
}

/** How often a renewal that got no answer is tried again. */
export const RETRY_MS = 10_000;
export const MAX_BODY_BYTES = 64 * 1024;

type Outcome =
  | WebhookAnswer
  | { ok: false; failure: Exclude<WebhookRefusal, 'webhook-denied'>; message: string };

export class AuthWebhook {
  readonly #target: WebhookTarget;
  readonly #timeoutMs: number;
  readonly #maxBody: number;
  readonly #audit: AuditSink;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #cache: WebhookCache;
  readonly #flights = new Map<string, Promise<HookVerdict>>();
  readonly #listeners = new Set<() => void>();
  #held: () => ReadonlySet<string> = () => new Set();
  #timer: { at: number; handle: NodeJS.Timeout } | undefined;
  #outage: { since: number; failures: number } | undefined;
  #closed = false;

  constructor(config: AuthWebhookConfig, deps: AuthWebhookDeps) {
    this.#target = config.target;
    this.#timeoutMs = config.timeoutMs;
    this.#maxBody = config.maxBodyBytes ?? MAX_BODY_BYTES;
    this.#audit = deps.audit;
    this.#log = deps.log.child({ component: 'auth-webhook', url: config.target.redacted });
    this.#now = deps.now ?? Date.now;
    this.#cache = new WebhookCache(config.maxAllows, config.maxDenies);
  }

  /** The URL as it may be shown. */
  get url(): string {
    return this.#target.redacted;
  }

  /** The relay tells which keys (base64 blobs) its open connections hold, for renewals. */
  attach(held: () => ReadonlySet<string>): void {
    this.#held = held;
  }

  onChange = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  /** `policy` with this hook behind it: keys the file does not list get their live allow. */
  over(policy: PolicyView): PolicyView {
    return {
      authorize: (keyBlob, ip, now) => {
        const v = policy.authorize(keyBlob, ip, now);
        if (v.ok || v.reason !== 'unknown-key') return v;
        const entry = this.#cache.live(keyBlob.toString('base64'));
        return entry ? { ok: true, entry } : v;
      },
      mayListen: (entry, name, port) => policy.mayListen(entry, name, port),
      mayOpen: (entry, name, port) => policy.mayOpen(entry, name, port),
    };
  }

  /** For a "would you accept this key" query: false only while a deny for it is fresh. */
  mayTry(keyBlob: Buffer): boolean {
    return this.#cache.fresh(keyBlob.toString('base64'), this.#now())?.allow !== false;
  }

  /** Decides a signed login of a key the policy file does not list. Never rejects. */
  login(keyBlob: Buffer, source: string, user: string): Promise<HookVerdict> {
    const key = keyBlob.toString('base64');
    const cached = this.#cache.fresh(key, this.#now());
    if (cached) {
      return Promise.resolve(
        cached.allow ? { ok: true, entry: cached.entry } : { ok: false, reason: 'webhook-denied' },
      );
    }
    return this.#ask(key, keyBlob, source, user);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer?.handle);
    this.#timer = undefined;
  }

  #ask(key: string, keyBlob: Buffer, source: string, user: string): Promise<HookVerdict> {
    const flying = this.#flights.get(key);
    if (flying) return flying;
    const flight = this.#post(webhookRequest(keyBlob, source, user))
      .then((outcome) => this.#settle(key, keyBlob, source, user, outcome))
      .finally(() => this.#flights.delete(key));
    this.#flights.set(key, flight);
    return flight;
  }

  #settle(key: string, keyBlob: Buffer, source: string, user: string, o: Outcome): HookVerdict {
    const now = this.#now();
    if (!o.ok) {
      this.#failed('failure' in o ? o.failure : 'webhook-malformed', o.message);
      return { ok: false, reason: 'failure' in o ? o.failure : 'webhook-malformed' };
    }
    this.#restored(now);
    const before = this.#cache.live(key);
    if (!o.allow) {
      this.#cache.deny(key, now + o.ttlMs);
      if (before) this.#changed();
      return { ok: false, reason: 'webhook-denied' };
    }
    const entry = webhookEntry(keyBlob, o);
    this.#cache.allow(key, { entry, until: now + o.ttlMs, source, user });
    this.#arm(now + o.ttlMs);
    if (before) this.#changed();
    return { ok: true, entry };
  }

  /** One POST, bounded in time and size; every failure becomes an outcome, nothing throws. */
  async #post(body: object): Promise<Outcome> {
    const signal = AbortSignal.timeout(this.#timeoutMs);
    const fail = (
      failure: Exclude<WebhookRefusal, 'webhook-denied'>,
      message: string,
    ): Outcome => ({
      ok: false,
      failure,
      message,
    });
    try {
      const res = await fetch(this.#target.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          ...(this.#target.authorization ? { authorization: this.#target.authorization } : {}),
        },
        body: JSON.stringify(body),
        redirect: 'error',
        signal,
      });
      if (res.status < 200 || res.status > 299) {
        await res.body?.cancel().catch(() => undefined);
        return fail('webhook-status', `HTTP ${res.status}`);
      }
      const text = await readBodyUpTo(res, this.#maxBody);
      if (text === undefined) {
        return fail('webhook-malformed', `answer larger than ${this.#maxBody} bytes`);
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        return fail('webhook-malformed', 'the answer is not JSON');
      }
      return parseWebhookAnswer(json);
    } catch (err) {
      if (signal.aborted) return fail('webhook-timeout', `no answer within ${this.#timeoutMs} ms`);
      // Only the error's code: a message could quote the URL.
      const code = (err as { cause?: { code?: unknown } }).cause?.code;
      return fail('webhook-unreachable', typeof code === 'string' ? code : 'request failed');
    }
  }

  #failed(reason: string, detail: string): void {
    if (this.#outage) {
      this.#outage.failures += 1;
      return;
    }
    this.#outage = { since: this.#now(), failures: 1 };
    this.#log.warn({ reason, detail }, 'auth webhook failed: keys it would judge are refused');
    this.#audit.record({ event: 'webhook.failed', url: this.#target.redacted, reason, detail });
  }

  #restored(now: number): void {
    const o = this.#outage;
    if (!o) return;
    this.#outage = undefined;
    this.#log.info({ failures: o.failures }, 'auth webhook answers again');
    this.#audit.record({
      event: 'webhook.restored',
      url: this.#target.redacted,
      failures: o.failures,
      outage_ms: now - o.since,
    });
  }

  #changed(): void {
    for (const l of [...this.#listeners]) l();
  }

  /** One timer for the soonest renewal; never sooner than a second after the last one. */
  #arm(at: number): void {
    if (this.#closed || (this.#timer && this.#timer.at <= at)) return;
    clearTimeout(this.#timer?.handle);
    const delay = Math.min(Math.max(at - this.#now(), 0), 2 ** 31 - 1);
    const handle = setTimeout(() => this.#renew(), delay);
    handle.unref();
    this.#timer = { at, handle };
  }

  #renew(): void {
    this.#timer = undefined;
    if (this.#closed) return;
    const now = this.#now();
    const { keys, next } = this.#cache.due(now);
    if (next !== undefined) this.#arm(Math.max(next, now + 1000));
    if (keys.length === 0) return;
    const held = this.#held();
    for (const key of keys) {
      const a = this.#cache.allowOf(key);
      if (!a) continue;
      if (!held.has(key)) {
        this.#cache.drop(key);
        continue;
      }
      // Until an answer comes, the open connections keep the last allow.
      this.#cache.retryAt(key, now + RETRY_MS);
      this.#arm(now + RETRY_MS);
      void this.#ask(key, a.entry.keyBlob, a.source, a.user);
    }
  }
}
