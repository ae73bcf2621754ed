import type { Logger } from 'pino';
import type { AuditSink } from '../audit/audit.js';
import { configError } from '../core/errors.js';
import { AuthWebhook } from '../relay/auth-webhook.js';
import { parseWebhookUrl, type WebhookTarget } from '../relay/webhook-url.js';
import { envOption } from './env-option.js';
import { parseDuration } from './parse.js';

/** `burrow relay`'s auth webhook flags, as commander hands them over. */
export interface WebhookFlags {
  authWebhook?: string;
  authWebhookTimeout: string;
}

export function authWebhookOption() {
  return envOption(
    '--auth-webhook <url>',
    'ask this http(s) URL about keys the policy file does not list (POST JSON; see the README); ' +
      'an allow is cached for its ttl_s, a deny for at most 10s, and no answer refuses',
    'AUTH_WEBHOOK',
  );
}

export function authWebhookTimeoutOption() {
  return envOption(
    '--auth-webhook-timeout <duration>',
    'how long to wait for the auth webhook before refusing the key',
    'AUTH_WEBHOOK_TIMEOUT',
    '2s',
  );
}

export interface WebhookSettings {
  readonly target: WebhookTarget;
  readonly timeoutMs: number;
}

/** The flags checked; undefined without --auth-webhook. Throws CONFIG_INVALID naming the flag. */
export function parseWebhookFlags(flags: WebhookFlags): WebhookSettings | undefined {
  const timeoutMs = parseDuration('--auth-webhook-timeout', flags.authWebhookTimeout);
  if (timeoutMs < 1 || timeoutMs > 60_000) {
    throw configError('--auth-webhook-timeout: give a duration from 1ms to 60s');
  }
  if (flags.authWebhook === undefined) return undefined;
  return { target: parseWebhookUrl('--auth-webhook', flags.authWebhook), timeoutMs };
}

export function createWebhook(
  settings: WebhookSettings | undefined,
  log: Logger,
  audit: AuditSink,
): AuthWebhook | undefined {
  if (!settings) return undefined;
  log.info(
    { url: settings.target.redacted },
    'auth webhook judges keys the policy file does not list',
  );
  return new AuthWebhook(settings, { log, audit });
}
