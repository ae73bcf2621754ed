import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PolicyEntry } from '../core/policy/index.js';
import { WebhookCache } from './webhook-cache.js';

const entry = (n: string) => ({ file: 'auth-webhook', comment: n }) as unknown as PolicyEntry;
const allow = (n: string, until: number) => ({
  entry: entry(n),
  until,
  source: '10.0.0.1',
  user: 'u',
});

describe('WebhookCache', () => {
  it('an allow is fresh until its ttl, and stays live after it', () => {
    const c = new WebhookCache();
    c.allow('k', allow('a', 1000));
    assert.deepEqual(c.fresh('k', 999), { allow: true, entry: entry('a') });
    assert.equal(c.fresh('k', 1000), undefined);
    assert.deepEqual(c.live('k'), entry('a'));
  });

  it('a deny replaces the allow and is used only while fresh', () => {
    const c = new WebhookCache();
    c.allow('k', allow('a', 5000));
    c.deny('k', 2000);
    assert.equal(c.live('k'), undefined);
    assert.deepEqual(c.fresh('k', 1999), { allow: false });
    assert.equal(c.fresh('k', 2000), undefined);
    c.allow('k', allow('b', 9000));
    assert.deepEqual(c.fresh('k', 2000), { allow: true, entry: entry('b') });
  });

  it('bounds allows and denies apart, evicting the least recently used', () => {
    const c = new WebhookCache(2, 2);
    c.allow('a', allow('a', 100));
    c.allow('b', allow('b', 100));
    c.fresh('a', 0); // a is now the most recently used
    c.allow('c', allow('c', 100));
    assert.equal(c.live('b'), undefined);
    assert.ok(c.live('a') && c.live('c'));
    for (let i = 0; i < 100; i++) c.deny(`d${i}`, 100);
    assert.deepEqual(c.size, { allows: 2, denies: 2 });
    assert.ok(c.live('a') && c.live('c'), 'denies never evict allows');
  });

  it('lists the allows due for renewal and the next moment', () => {
    const c = new WebhookCache();
    c.allow('a', allow('a', 100));
    c.allow('b', allow('b', 300));
    assert.deepEqual(c.due(50), { keys: [], next: 100 });
    assert.deepEqual(c.due(100), { keys: ['a'], next: 300 });
    c.retryAt('a', 200);
    assert.deepEqual(c.due(150), { keys: [], next: 200 });
    assert.equal(c.fresh('a', 150), undefined, 'a retry does not make a stale allow fresh');
    c.drop('a');
    assert.deepEqual(c.due(1000), { keys: ['b'] });
  });
});
