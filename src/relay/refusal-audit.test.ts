import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditEvent } from '../audit/audit.js';
import { RefusalAudit } from './refusal-audit.js';

describe('RefusalAudit', () => {
  it('writes one line per source per interval and a summary with counts', () => {
    const events: AuditEvent[] = [];
    const r = new RefusalAudit({ record: (e) => events.push(e) }, 10_000);
    for (let i = 0; i < 1000; i++) r.refused(`127.0.1.${i % 5}`, `127.0.1.${i % 5}`, 'penalised');
    r.refused('127.0.1.0', '127.0.1.0', 'max-startups');
    assert.equal(events.length, 5);
    r.flush();
    assert.deepEqual(events.at(-1), {
      event: 'conn.refused.summary',
      refused: 1001,
      by_reason: { penalised: 1000, 'max-startups': 1 },
      sources: 5,
      interval_ms: 10_000,
    });
    r.flush();
    assert.equal(events.length, 6, 'a quiet interval writes nothing');
    r.refused('127.0.1.0', '127.0.1.0', 'penalised');
    assert.equal(events.length, 7, 'a new interval logs the source again');
  });

  it('keeps at most maxSources sources per interval and says so', () => {
    const events: AuditEvent[] = [];
    const r = new RefusalAudit({ record: (e) => events.push(e) }, 1000, 3);
    for (let i = 0; i < 10; i++) r.refused(`10.0.0.${i}`, `10.0.0.${i}`, 'max-startups');
    r.flush();
    assert.equal(events.length, 4);
    assert.deepEqual(events.at(-1), {
      event: 'conn.refused.summary',
      refused: 10,
      by_reason: { 'max-startups': 10 },
      sources: 3,
      sources_capped: true,
      interval_ms: 1000,
    });
  });
});
