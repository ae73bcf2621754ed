/**
 * Properties of the auth webhook's answer reader (src/core/policy/webhook-answer.ts): whatever
 * JSON a hook returns, the reader never throws, never grants more than the answer's own lists,
 * keeps every limit, and gives a short message for anything malformed (fail closed).
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  MAX_DENY_TTL_S,
  MAX_PATTERNS,
  MAX_TTL_S,
  parseWebhookAnswer,
} from '../../src/core/policy/webhook-answer.js';
import { anyText, deviceName } from './arbitraries.js';
import { type FuzzProperty, MAX_MESSAGE } from './property.js';

const SUBJECT = 'core/policy/webhook-answer.ts';

const routeText = fc.oneof(
  fc.tuple(deviceName, fc.integer({ min: 0, max: 70_000 })).map(([n, p]) => `${n}:${p}`),
  fc.constantFrom('*:22', 'dev?:*', ':22', 'dev1:', 'dev1:22:33', '*', ''),
  anyText,
);
const list = fc.oneof(
  fc.array(routeText, { maxLength: 4 }),
  fc.array(fc.constant('dev1:22'), { minLength: MAX_PATTERNS - 1, maxLength: MAX_PATTERNS + 2 }),
  fc.anything(),
);
const ttl = fc.oneof(
  fc.integer({ min: -5, max: MAX_TTL_S + 5 }),
  fc.double(),
  fc.constantFrom(0, 1, MAX_TTL_S, MAX_TTL_S + 1, '60', null),
);
/** Answers shaped like the contract, with each field possibly absent, wrong or extra. */
const answer = fc.record(
  {
    allow: fc.oneof(fc.boolean(), fc.anything()),
    permitlisten: list,
    permitopen: list,
    ttl_s: ttl,
    extra: fc.anything(),
  },
  { requiredKeys: [] },
);

export const webhookAnswerProperties: FuzzProperty[] = [
  {
    subject: SUBJECT,
    name: 'any JSON answer is read without throwing; a grant stays within its lists and limits',
    runs: 400,
    property: () =>
      fc.property(fc.oneof(answer, fc.anything()), (body) => {
        const a = parseWebhookAnswer(body);
        if (!a.ok) {
          assert.ok(a.message.length > 0 && a.message.length <= MAX_MESSAGE, a.message);
          return;
        }
        const o = body as Record<string, unknown>;
        assert.equal(o.allow, a.allow, 'the answer is what the hook said');
        assert.ok(!('extra' in o), 'an unknown field is never accepted');
        if (!a.allow) {
          assert.ok(a.ttlMs >= 1000 && a.ttlMs <= MAX_DENY_TTL_S * 1000, String(a.ttlMs));
          return;
        }
        assert.ok(a.ttlMs >= 1000 && a.ttlMs <= MAX_TTL_S * 1000, String(a.ttlMs));
        const lengthOf = (v: unknown) => (Array.isArray(v) ? v.length : 0);
        assert.equal(a.listen.length, lengthOf(o.permitlisten));
        assert.equal(a.open.length, lengthOf(o.permitopen));
        assert.ok(a.listen.length <= MAX_PATTERNS && a.open.length <= MAX_PATTERNS);
      }),
  },
];
