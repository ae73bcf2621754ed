import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import type { AuditEvent } from '../audit/audit.js';
import { MemoryRegistry } from '../registry/memory.js';
import { createRelayMetrics } from './relay.js';

/** Every series of `name` as `labels → value`, from the registry's own JSON view. */
async function series(register: Registry, name: string): Promise<Map<string, number>> {
  const all = await register.getMetricsAsJSON();
  const metric = all.find((m) => m.name === name);
  assert.ok(metric, `${name} registered`);
  return new Map(metric.values.map((v) => [JSON.stringify(v.labels), v.value]));
}

const base = { conn: 'c1', fp: 'SHA256:x' };

describe('relay metrics', () => {
  it('counts audit events by fixed words only; an unknown reason is `other`', async () => {
    const register = new Registry();
    const { observer } = createRelayMetrics(register);
    const events: AuditEvent[] = [
      { ...base, event: 'name.registered', name: 'dev1', port: 22, form: 'tcpip' },
      { ...base, event: 'name.refused', request: 'dev2:22', reason: 'not-permitted' },
      { ...base, event: 'name.refused', request: 'dev3:22', reason: 'no-such-word' },
      {
        ...base,
        event: 'connect.refused',
        to: 'x:22',
        via: 'direct-tcpip',
        reason: 'unknown-name',
      },
      { event: 'conn.closed', conn: 'c1', ip: '10.0.0.1', reason: 'key-expired', ms: 5 },
      { event: 'conn.closed', conn: 'c2', ip: '10.0.0.2', reason: 'peer-closed', ms: 5 },
      {
        event: 'conn.refused.summary',
        refused: 7,
        by_reason: { 'max-startups': 5, invented: 2 },
        sources: 3,
        interval_ms: 10_000,
      },
    ];
    for (const e of events) observer.audited(e);
    const refusals = await series(register, 'burrow_relay_refusals_total');
    const at = (kind: string, reason: string) => refusals.get(JSON.stringify({ kind, reason }));
    assert.equal(at('register', 'not-permitted'), 1);
    assert.equal(at('register', 'other'), 1);
    assert.equal(at('connect', 'unknown-name'), 1);
    assert.equal(at('revoke', 'key-expired'), 1);
    assert.equal(at('connection', 'max-startups'), 5);
    assert.equal(at('connection', 'other'), 2);
    // Only the vocabulary's words (and `other`) ever appear as labels.
    const reasons = new Set([...refusals.keys()].map((k) => JSON.parse(k).reason as string));
    assert.ok(
      !reasons.has('no-such-word') && !reasons.has('invented') && !reasons.has('peer-closed'),
    );
    const registrations = await series(register, 'burrow_relay_registrations_total');
    assert.equal(registrations.get(JSON.stringify({ result: 'accepted' })), 1);
    assert.equal(registrations.get(JSON.stringify({ result: 'refused' })), 2);
  });

  it('times registry operations, counts their failures, and passes results through', async () => {
    const register = new Registry();
    let t = 1_000_000;
    const metrics = createRelayMetrics(register, () => t);
    /** A real memory registry whose lookups fail while `down` (a registry outage). */
    let down = false;
    const inner = new (class extends MemoryRegistry {
      override lookup(name: string) {
        return down ? Promise.reject(new Error('registry down')) : super.lookup(name);
      }
    })();
    const registry = metrics.timeRegistry(inner);
    const claim = { name: 'dev1', port: 22, owner: 'SHA256:a', relayId: 'r1', ttlMs: 10_000 };
    assert.equal((await registry.claim(claim)).ok, true);
    assert.equal((await registry.lookup('dev1'))?.relayId, 'r1');
    down = true;
    await assert.rejects(registry.lookup('dev1'), /registry down/);
    const seconds = await register.getMetricsAsJSON();
    const hist = seconds.find((m) => m.name === 'burrow_relay_registry_seconds');
    const count = (op: string) =>
      hist?.values.find(
        (v) =>
          (v as { metricName?: string }).metricName === 'burrow_relay_registry_seconds_count' &&
          v.labels.op === op,
      )?.value;
    assert.equal(count('claim'), 1);
    assert.equal(count('lookup'), 2);
    const errors = await series(register, 'burrow_relay_registry_errors_total');
    assert.equal(errors.get(JSON.stringify({ op: 'lookup' })), 1);
    assert.equal(errors.get(JSON.stringify({ op: 'claim' })), 0);

    // Heartbeat age: NaN before the first accepted heartbeat, then time since it.
    const age = async () =>
      (await series(register, 'burrow_relay_heartbeat_age_seconds')).get('{}');
    assert.ok(Number.isNaN(await age()));
    const fresh = metrics.timeRegistry(new MemoryRegistry());
    await fresh.heartbeat(
      {
        relayId: 'r1',
        address: '127.0.0.1:1',
        names: 0,
        connections: 0,
        capacity: 0,
        draining: false,
        version: '',
        startedAt: t,
      },
      [],
      10_000,
    );
    t += 2500;
    assert.equal(await age(), 2.5);
  });
});
