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
function drive(relays: string[]) {
  const m = new AgentMachine(relays, policy, top);
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
});
