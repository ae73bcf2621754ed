import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseWebhookUrl } from './webhook-url.js';

describe('parseWebhookUrl', () => {
  const cases: [string, { url: string; redacted: string; authorization?: string }][] = [
    [
      'http://127.0.0.1:8080/hook',
      { url: 'http://127.0.0.1:8080/hook', redacted: 'http://127.0.0.1:8080/hook' },
    ],
    [
      'https://hooks.example/v1/validate',
      { url: 'https://hooks.example/v1/validate', redacted: 'https://hooks.example/v1/validate' },
    ],
    [
      'https://u:p%40ss@h.example/x?token=abc#frag',
      {
        url: 'https://h.example/x?token=abc',
        redacted: 'https://***@h.example/x?***',
        authorization: `Basic ${Buffer.from('u:p@ss').toString('base64')}`,
      },
    ],
    [
      'http://tok@h.example/',
      {
        url: 'http://h.example/',
        redacted: 'http://***@h.example/',
        authorization: `Basic ${Buffer.from('tok:').toString('base64')}`,
      },
    ],
  ];
  for (const [input, want] of cases) {
    it(`splits ${input}`, () => assert.deepEqual(parseWebhookUrl('--auth-webhook', input), want));
  }

  const bad: [string, RegExp][] = [
    [
      'ftp://h/x',
      /--auth-webhook: the "ftp:" scheme is not supported; use http:\/\/ or https:\/\//,
    ],
    ['file:///etc/passwd', /"file:" scheme/],
    ['javascript:alert(1)', /"javascript:" scheme/],
    ['127.0.0.1:8080/hook', /scheme is not supported|not a URL/],
    ['', /--auth-webhook: not a URL/],
  ];
  for (const [input, want] of bad) {
    it(`refuses ${JSON.stringify(input)}`, () =>
      assert.throws(() => parseWebhookUrl('--auth-webhook', input), want));
  }

  it('never echoes a secret in its error', () => {
    assert.throws(
      () => parseWebhookUrl('--auth-webhook', 'gopher://user:hunter2@h/'),
      (err: Error) => !err.message.includes('hunter2'),
    );
  });
});
