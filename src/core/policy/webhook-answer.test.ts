import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fingerprint } from './keys.js';
import { mayListen, mayOpen } from './policy.js';
import {
  MAX_PATTERNS,
  parseWebhookAnswer,
  webhookEntry,
  webhookRequest,
} from './webhook-answer.js';

/** An ssh-ed25519 key blob: string "ssh-ed25519", then 32 key bytes. */
const BLOB = Buffer.concat([
  Buffer.from([0, 0, 0, 11]),
  Buffer.from('ssh-ed25519'),
  Buffer.from([0, 0, 0, 32]),
  Buffer.alloc(32, 7),
]);

describe('parseWebhookAnswer', () => {
  const ok: [unknown, object][] = [
    [
      { allow: true, permitlisten: ['dev1:22'], permitopen: ['*:22'], ttl_s: 60 },
      {
        allow: true,
        listen: [{ name: 'dev1', port: '22' }],
        open: [{ name: '*', port: '22' }],
        ttlMs: 60_000,
      },
    ],
    [
      { allow: true, ttl_s: 1 },
      { allow: true, listen: [], open: [], ttlMs: 1000 },
    ],
    [
      { allow: true, permitlisten: ['DEV1:0022'], ttl_s: 86_400 },
      { listen: [{ name: 'dev1', port: '22' }], ttlMs: 86_400_000 },
    ],
    [{ allow: false }, { allow: false, ttlMs: 10_000 }],
    [
      { allow: false, ttl_s: 3 },
      { allow: false, ttlMs: 3000 },
    ],
    [
      { allow: false, ttl_s: 3600 },
      { allow: false, ttlMs: 10_000 },
    ],
  ];
  for (const [body, want] of ok) {
    it(`reads ${JSON.stringify(body)}`, () => {
      const a = parseWebhookAnswer(body);
      assert.ok(a.ok, JSON.stringify(a));
      for (const [k, v] of Object.entries(want)) assert.deepEqual((a as never)[k], v, k);
    });
  }

  const bad: [unknown, RegExp][] = [
    [null, /not a JSON object/],
    [[{ allow: true }], /not a JSON object/],
    ['allow', /not a JSON object/],
    [{}, /"allow" must be true or false/],
    [{ allow: 'true', ttl_s: 5 }, /"allow" must be true or false/],
    [{ allow: true }, /an allow needs "ttl_s"/],
    [{ allow: true, ttl_s: 0 }, /"ttl_s" must be a whole number/],
    [{ allow: true, ttl_s: 1.5 }, /"ttl_s" must be a whole number/],
    [{ allow: true, ttl_s: 86_401 }, /"ttl_s" must be a whole number/],
    [{ allow: true, ttl_s: '60' }, /"ttl_s" must be a whole number/],
    [{ allow: true, ttl_s: 60, permitlisten: 'dev1:22' }, /"permitlisten" must be a list/],
    [{ allow: true, ttl_s: 60, permitlisten: [22] }, /"permitlisten" must be a list/],
    [{ allow: true, ttl_s: 60, permitlisten: ['dev1'] }, /permitlisten=.*needs NAME:PORT/],
    [{ allow: true, ttl_s: 60, permitopen: ['dev 1:22'] }, /permitopen=/],
    [{ allow: true, ttl_s: 60, permitopen: ['dev1:70000'] }, /bad port/],
    [
      { allow: true, ttl_s: 60, permitlisten: Array(MAX_PATTERNS + 1).fill('a:1') },
      /more than 256/,
    ],
    [{ allow: true, ttl_s: 60, permitlisten: [`${'a'.repeat(400)}:1`] }, /longer than 300/],
    [{ allow: true, ttl_s: 60, command: 'sh' }, /unknown field "command"/],
    [{ allow: false, permitlisten: ['dev1:22'] }, /a deny carries no permitlisten/],
  ];
  for (const [body, want] of bad) {
    it(`refuses ${JSON.stringify(body).slice(0, 60)}`, () => {
      const a = parseWebhookAnswer(body);
      assert.equal(a.ok, false);
      assert.match((a as { message: string }).message, want);
    });
  }
});

describe('webhookRequest and webhookEntry', () => {
  it('sends the public key and its fingerprint, no more', () => {
    assert.deepEqual(webhookRequest(BLOB, '10.0.0.1', 'burrow'), {
      fingerprint: fingerprint(BLOB),
      public_key: `ssh-ed25519 ${BLOB.toString('base64')}`,
      source: '10.0.0.1',
      user: 'burrow',
    });
  });

  it('an allow permits what its lists say and nothing else (default deny)', () => {
    const a = parseWebhookAnswer({
      allow: true,
      permitlisten: ['dev1:22'],
      permitopen: ['web-*:80'],
      ttl_s: 5,
    });
    assert.ok(a.ok && a.allow);
    const e = webhookEntry(BLOB, a);
    assert.equal(e.file, 'auth-webhook');
    assert.equal(e.expiresAt, undefined);
    assert.equal(mayListen(e, 'dev1', 22), true);
    assert.equal(mayListen(e, 'dev2', 22), false);
    assert.equal(mayListen(e, 'dev1', 23), false);
    assert.equal(mayOpen(e, 'web-a', 80), true);
    assert.equal(mayOpen(e, 'dev1', 22), false);
  });
});
