import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AgentCommand, type AgentEvent, AgentMachine, type AttemptError } from './machine.js';

const policy = { baseMs: 500, capMs: 30_000 };
const top = () => 0.999_999;
const transient: AttemptError = { permanent: false, reason: 'ECONNREFUSED', message: 'refused' };
const denied: AttemptError = {
  permanent: true,
  reason: 'not-permitted',
  message: 'add permitlisten',
};

/** Drives a machine through events, recording every command, at a clock the test controls. */
function drive(relays: string[], placement = false) {
  const m = new AgentMachine(relays, policy, top, { placement });
  let now = 1000;
  const log: AgentCommand[] = [];
  return {
    m,
    step(event: AgentEvent, at = now): AgentCommand[] {
      now = at;
      const out = m.step(event, now);
      log.push(...out);
      return out;
    },
    /** The link id of the last connect command. */
    lastConnect(): { link: number; relay: string } {
      const c = [...log].reverse().find((x) => x.type === 'connect');
      assert.ok(c && c.type === 'connect', 'no connect yet');
      return { link: c.link, relay: c.relay };
    },
  };
}

describe('AgentMachine', () => {
  it('connects to the first relay of its order on start, then serves once registered', () => {
    const d = drive(['r1', 'r2']);
    assert.deepEqual(d.step({ type: 'start' }), [{ type: 'connect', link: 1, relay: 'r1' }]);
    assert.equal(d.m.snapshot().phase, 'connecting');
    assert.deepEqual(d.step({ type: 'registered', link: 1 }, 5000), []);
    const s = d.m.snapshot();
    assert.equal(s.phase, 'connected');
    assert.equal(s.relay, 'r1');
    assert.equal(s.since, 5000);
    assert.equal(s.reconnects, 0);
  });

  it('replaces a lost relay at once with the next one, and counts the reconnect', () => {
    const d = drive(['r1', 'r2', 'r3']);
    d.step({ type: 'start' });
    d.step({ type: 'registered', link: 1 });
    assert.deepEqual(d.step({ type: 'lost', link: 1, reason: 'connection-closed' }), [
      { type: 'connect', link: 2, relay: 'r2' },
    ]);
    assert.equal(d.m.snapshot().lastError?.reason, 'connection-closed');
    d.step({ type: 'registered', link: 2 }, 7000);
    assert.equal(d.m.snapshot().relay, 'r2');
    assert.equal(d.m.snapshot().reconnects, 1);
    assert.equal(d.m.snapshot().consecutiveFailures, 0);
  });

  it('backs off after consecutive failures, rotating relays, and connects when the timer fires', () => {
    const d = drive(['r1', 'r2']);
    d.step({ type: 'start' });
    // First failure: at once, next relay.
    assert.deepEqual(d.step({ type: 'attempt-failed', link: 1, error: transient }), [
      { type: 'connect', link: 2, relay: 'r2' },
    ]);
    // Second: wait (full jitter, here the top of the 500 ms window).
    assert.deepEqual(d.step({ type: 'attempt-failed', link: 2, error: transient }), [
      { type: 'wait', timer: 3, ms: 499 },
    ]);
    assert.equal(d.m.snapshot().phase, 'waiting');
    assert.equal(d.m.snapshot().trying, 'r1');
    assert.deepEqual(d.step({ type: 'timer', timer: 99 }), [], 'a stale timer is ignored');
    assert.deepEqual(d.step({ type: 'timer', timer: 3 }), [
      { type: 'connect', link: 4, relay: 'r1' },
    ]);
    assert.deepEqual(d.step({ type: 'attempt-failed', link: 4, error: transient }), [
      { type: 'wait', timer: 5, ms: 999 },
    ]);
  });

  it('on drain registers elsewhere first, then tells the draining link to leave', () => {
    const d = drive(['r1', 'r2']);
    d.step({ type: 'start' });
    d.step({ type: 'registered', link: 1 });
    assert.deepEqual(d.step({ type: 'drain', link: 1 }), [
      { type: 'connect', link: 2, relay: 'r2' },
    ]);
    let s = d.m.snapshot();
    assert.equal(s.phase, 'moving');
    assert.equal(s.relay, 'r1', 'still served by the draining relay');
    assert.equal(s.draining, true);
    assert.deepEqual(d.step({ type: 'drain', link: 1 }), [], 'a repeated drain changes nothing');
    assert.deepEqual(d.step({ type: 'registered', link: 2 }, 9000), [{ type: 'leave', link: 1 }]);
    s = d.m.snapshot();
    assert.equal(s.phase, 'connected');
    assert.equal(s.relay, 'r2');
    assert.equal(s.draining, false);
    // The old link closing afterwards is not a loss.
    assert.deepEqual(d.step({ type: 'lost', link: 1, reason: 'moved' }), []);
    assert.equal(d.m.snapshot().relay, 'r2');
  });

  it('keeps moving when the draining relay dies before the move completes', () => {
    const d = drive(['r1', 'r2']);
    d.step({ type: 'start' });
    d.step({ type: 'registered', link: 1 });
    d.step({ type: 'drain', link: 1 });
    assert.deepEqual(d.step({ type: 'lost', link: 1, reason: 'relay-closed' }), []);
    assert.equal(d.m.snapshot().phase, 'connecting');
    assert.deepEqual(d.step({ type: 'registered', link: 2 }), []);
    assert.equal(d.m.snapshot().relay, 'r2');
  });

  it('with a single relay, stays on a draining relay until it closes, then reconnects to it', () => {
    const d = drive(['only']);
    d.step({ type: 'start' });
    d.step({ type: 'registered', link: 1 });
    assert.deepEqual(d.step({ type: 'drain', link: 1 }), []);
    assert.equal(d.m.snapshot().phase, 'connected');
    assert.deepEqual(d.step({ type: 'lost', link: 1, reason: 'relay-closed' }), [
      { type: 'connect', link: 2, relay: 'only' },
    ]);
  });

  it('exits 2 on a permanent refusal from its only relay', () => {
    const d = drive(['only']);
    d.step({ type: 'start' });
    assert.deepEqual(d.step({ type: 'attempt-failed', link: 1, error: denied }), [
      { type: 'exit', code: 2, message: 'add permitlisten' },
    ]);
    assert.equal(d.m.snapshot().phase, 'stopped');
    assert.deepEqual(d.step({ type: 'start' }), [], 'a stopped machine does nothing');
  });

  it('exits 2 only once every relay has refused permanently since the last success', () => {
    const d = drive(['r1', 'r2']);
    /** Fails the pending attempt; if the machine waits, fires its timer; returns the next relay. */
    const fail = (error: AttemptError): AgentCommand[] => {
      const out = d.step({ type: 'attempt-failed', link: d.lastConnect().link, error });
      const wait = out.find((c) => c.type === 'wait');
      return wait && wait.type === 'wait' ? d.step({ type: 'timer', timer: wait.timer }) : out;
    };
    d.step({ type: 'start' });
    assert.deepEqual(fail(denied), [{ type: 'connect', link: 2, relay: 'r2' }]);
    d.step({ type: 'registered', link: 2 }); // r2 accepts: earlier refusals are forgotten
    d.step({ type: 'lost', link: 2, reason: 'reset' });
    assert.equal(d.lastConnect().relay, 'r1');
    assert.equal(fail(denied)[0]?.type, 'connect', 'r2 has not refused since the success');
    assert.equal(d.lastConnect().relay, 'r2');
    // A transient failure does not rule a relay out.
    assert.equal(fail(transient)[0]?.type, 'connect');
    assert.equal(d.lastConnect().relay, 'r1');
    assert.equal(fail(denied)[0]?.type, 'connect');
    assert.equal(d.lastConnect().relay, 'r2');
    assert.deepEqual(fail(denied), [{ type: 'exit', code: 2, message: 'add permitlisten' }]);
  });

  it('does not exit on permanent refusals while a draining link still serves', () => {
    const d = drive(['r1', 'r2']);
    d.step({ type: 'start' });
    d.step({ type: 'registered', link: 1 });
    d.step({ type: 'drain', link: 1 });
    const out = d.step({ type: 'attempt-failed', link: 2, error: denied });
    assert.notEqual(out[0]?.type, 'exit');
    assert.equal(d.m.snapshot().relay, 'r1');
  });

  it('treats a link lost while registering as a failed attempt', () => {
    const d = drive(['r1', 'r2']);
    d.step({ type: 'start' });
    assert.deepEqual(d.step({ type: 'lost', link: 1, reason: 'reset' }), [
      { type: 'connect', link: 2, relay: 'r2' },
    ]);
    // The late registration result for link 1 is stale: that link is closed, not adopted.
    assert.deepEqual(d.step({ type: 'registered', link: 1 }), [{ type: 'close', link: 1 }]);
    assert.deepEqual(d.step({ type: 'attempt-failed', link: 1, error: transient }), []);
  });

  it('stop closes every link and exits 0', () => {
    const d = drive(['r1', 'r2']);
    d.step({ type: 'start' });
    d.step({ type: 'registered', link: 1 });
    d.step({ type: 'drain', link: 1 });
    assert.deepEqual(d.step({ type: 'stop' }), [
      { type: 'close', link: 2 },
      { type: 'close', link: 1 },
      { type: 'exit', code: 0, message: 'stopped' },
    ]);
  });

  describe('with placement', () => {
    it('asks at start, then tries the answer in order with the usual timing', () => {
      const d = drive(['f1'], true);
      assert.deepEqual(d.step({ type: 'start' }), [{ type: 'place', request: 1 }]);
      assert.equal(d.m.snapshot().phase, 'connecting');
      assert.equal(d.m.snapshot().placing, true);
      assert.deepEqual(d.step({ type: 'placed', request: 99, relays: ['x'] }), [], 'stale answer');
      assert.deepEqual(d.step({ type: 'placed', request: 1, relays: ['a', 'b'] }), [
        { type: 'connect', link: 2, relay: 'a' },
      ]);
      assert.equal(d.m.snapshot().placing, undefined);
      // A failed first attempt: the next candidate at once; then full jitter.
      assert.deepEqual(d.step({ type: 'attempt-failed', link: 2, error: transient }), [
        { type: 'connect', link: 3, relay: 'b' },
      ]);
      // Every candidate tried: ask again, after the backoff wait.
      assert.deepEqual(d.step({ type: 'attempt-failed', link: 3, error: transient }), [
        { type: 'wait', timer: 4, ms: 499 },
      ]);
      assert.equal(d.m.snapshot().placing, true);
      assert.deepEqual(d.step({ type: 'timer', timer: 4 }), [{ type: 'place', request: 5 }]);
      assert.deepEqual(d.step({ type: 'placed', request: 5, relays: ['b'] }), [
        { type: 'connect', link: 6, relay: 'b' },
      ]);
      d.step({ type: 'registered', link: 6 });
      assert.equal(d.m.snapshot().relay, 'b');
      assert.equal(d.m.snapshot().consecutiveFailures, 0);
    });

    it('asks again at once when its relay is lost, avoiding it, and tries it last', () => {
      const d = drive([], true);
      d.step({ type: 'start' });
      d.step({ type: 'placed', request: 1, relays: ['a', 'b'] });
      d.step({ type: 'registered', link: 2 });
      assert.deepEqual(d.step({ type: 'lost', link: 2, reason: 'reset' }), [
        { type: 'place', request: 3, avoid: 'a' },
      ]);
      // The coordinator still names the lost relay first (its record is fresh): it goes last.
      assert.deepEqual(d.step({ type: 'placed', request: 3, relays: ['a', 'c'] }), [
        { type: 'connect', link: 4, relay: 'c' },
      ]);
      assert.deepEqual(d.step({ type: 'attempt-failed', link: 4, error: transient }), [
        { type: 'wait', timer: 5, ms: 499 },
      ]);
      assert.deepEqual(d.step({ type: 'timer', timer: 5 }), [
        { type: 'connect', link: 6, relay: 'a' },
      ]);
    });

    it('falls back to its relays when the coordinator does not answer or names none', () => {
      for (const answer of [
        { error: 'cannot reach the coordinator: ECONNREFUSED' },
        { relays: [] },
      ]) {
        const d = drive(['f1', 'f2'], true);
        d.step({ type: 'start' });
        assert.deepEqual(d.step({ type: 'placed', request: 1, ...answer }), [
          { type: 'connect', link: 2, relay: 'f1' },
        ]);
        if ('error' in answer) assert.equal(d.m.snapshot().lastError?.reason, 'placement');
        assert.deepEqual(d.step({ type: 'attempt-failed', link: 2, error: transient }), [
          { type: 'connect', link: 3, relay: 'f2' },
        ]);
      }
    });

    it('with no relays of its own, keeps asking with backoff while the coordinator is away', () => {
      const d = drive([], true);
      d.step({ type: 'start' });
      assert.deepEqual(d.step({ type: 'placed', request: 1, error: 'down' }), [
        { type: 'place', request: 2 },
      ]);
      assert.deepEqual(d.step({ type: 'placed', request: 2, error: 'down' }), [
        { type: 'wait', timer: 3, ms: 499 },
      ]);
      assert.equal(d.m.snapshot().phase, 'waiting');
      assert.deepEqual(d.step({ type: 'timer', timer: 3 }), [{ type: 'place', request: 4 }]);
      assert.deepEqual(d.step({ type: 'placed', request: 4, relays: ['a'] }), [
        { type: 'connect', link: 5, relay: 'a' },
      ]);
    });

    it('on drain asks where to move, never back to the draining relay', () => {
      const d = drive([], true);
      d.step({ type: 'start' });
      d.step({ type: 'placed', request: 1, relays: ['a'] });
      d.step({ type: 'registered', link: 2 });
      assert.deepEqual(d.step({ type: 'drain', link: 2 }), [
        { type: 'place', request: 3, avoid: 'a' },
      ]);
      assert.equal(d.m.snapshot().phase, 'moving');
      // Only the draining relay named: stay on it until it closes.
      assert.deepEqual(d.step({ type: 'placed', request: 3, relays: ['a'] }), []);
      assert.equal(d.m.snapshot().phase, 'connected');
      assert.deepEqual(d.step({ type: 'lost', link: 2, reason: 'relay-closed' }), [
        { type: 'place', request: 4, avoid: 'a' },
      ]);
      assert.deepEqual(d.step({ type: 'placed', request: 4, relays: ['b', 'a'] }), [
        { type: 'connect', link: 5, relay: 'b' },
      ]);
    });

    it('moves on drain to the relay named, then leaves the draining one', () => {
      const d = drive([], true);
      d.step({ type: 'start' });
      d.step({ type: 'placed', request: 1, relays: ['a'] });
      d.step({ type: 'registered', link: 2 });
      d.step({ type: 'drain', link: 2 });
      assert.deepEqual(d.step({ type: 'placed', request: 3, relays: ['a', 'b'] }), [
        { type: 'connect', link: 4, relay: 'b' },
      ]);
      assert.deepEqual(d.step({ type: 'registered', link: 4 }), [{ type: 'leave', link: 2 }]);
      assert.equal(d.m.snapshot().relay, 'b');
    });

    it('exits 2 once every relay named has refused permanently, and skips refused ones', () => {
      const d = drive([], true);
      d.step({ type: 'start' });
      d.step({ type: 'placed', request: 1, relays: ['a', 'b'] });
      assert.deepEqual(d.step({ type: 'attempt-failed', link: 2, error: denied }), [
        { type: 'connect', link: 3, relay: 'b' },
      ]);
      assert.deepEqual(d.step({ type: 'attempt-failed', link: 3, error: denied }), [
        { type: 'exit', code: 2, message: 'add permitlisten' },
      ]);
    });

    it('stop during a question exits at once, and a late answer is ignored', () => {
      const d = drive([], true);
      d.step({ type: 'start' });
      assert.deepEqual(d.step({ type: 'stop' }), [{ type: 'exit', code: 0, message: 'stopped' }]);
      assert.deepEqual(d.step({ type: 'placed', request: 1, relays: ['a'] }), []);
    });

    it('refuses to start without relays unless placement is on', () => {
      assert.throws(() => new AgentMachine([], policy, top), /at least one relay/);
    });
  });
});
