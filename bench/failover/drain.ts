/**
 * Drain (burrow only: the recipe has no way to move a device before its relay goes away): two
 * client loops of `ssh dev1-any true` run throughout, where `dev1-any` is a ProxyCommand that
 * tries the relay being drained and falls back to the other (what a client with a relay list
 * does without a coordinator). SIGTERM the relay in use, keep the loops going at least
 * DRAIN_TAIL_MS after the agent has moved, count connections and failures; restart the drained
 * relay and drain the other one next.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type FleetRelay, startFleet } from '../../test/helpers/fleet.js';
import { type Scope, waitFor } from '../../test/helpers/index.js';

/** How long the client loops keep going after the agent has moved. */
export const DRAIN_TAIL_MS = 5000;
const LOOPS = 2;
/** A bound on each client loop, far above what DRAIN_TAIL_MS and the move need. */
const MAX_PER_LOOP = 300;

export interface DrainSample {
  drain: number;
  from: string;
  to: string;
  /** Connections completed in this drain, in total and those that ended after the SIGTERM. */
  connections: number;
  afterSignal: number;
  failed: number;
  /** ms from SIGTERM until the agent's status named the other relay; null if it never did. */
  movedMs: number | null;
  /** ms from SIGTERM until the drained relay process exited, and its exit code. */
  relayExitMs: number | null;
  relayExitCode: number | null;
  errors: string[];
}

export interface DrainResult {
  drains: number;
  loops: number;
  tailS: number;
  connections: number;
  failed: number;
  samples: DrainSample[];
}

export async function measureDrain(
  scope: Scope,
  opts: { drains: number; log: (msg: string) => void },
): Promise<DrainResult> {
  const { drains, log } = opts;
  log('drain: starting 2 burrow relays + agent');
  const fleet = await startFleet(scope, { relays: 2 });
  const agent = fleet.startAgent();
  await agent.waitForLine(/registered on/, { stream: 'stderr', timeoutMs: 15_000 });
  const samples: DrainSample[] = [];
  for (let d = 1; d <= drains; d++) {
    const s = await drainOnce(fleet, d);
    samples.push(s);
    log(
      `drain ${d}/${drains}: ${s.from} → ${s.to}: ${s.connections} connections ` +
        `(${s.afterSignal} after SIGTERM), ${s.failed} failed; moved after ${s.movedMs ?? '—'} ms, ` +
        `relay exited ${s.relayExitCode ?? '?'} after ${s.relayExitMs ?? '—'} ms`,
    );
  }
  return {
    drains,
    loops: LOOPS,
    tailS: DRAIN_TAIL_MS / 1000,
    connections: samples.reduce((n, s) => n + s.connections, 0),
    failed: samples.reduce((n, s) => n + s.failed, 0),
    samples,
  };
}

type Fleet = Awaited<ReturnType<typeof startFleet>>;

async function drainOnce(fleet: Fleet, d: number): Promise<DrainSample> {
  const inUseId = await waitFor(
    async () => {
      const st = (await fleet.status()).state;
      return st.phase === 'connected' ? st.relay : undefined;
    },
    { what: 'the agent to be registered', timeoutMs: 30_000 },
  );
  const from = fleet.relays.find((r) => r.id === inUseId)!;
  const to = fleet.relays.find((r) => r !== from)!;
  setClient(fleet, from, to);

  let stop = false;
  let signalled = Number.POSITIVE_INFINITY;
  const results: { ok: boolean; end: number; err: string }[] = [];
  const loops = Array.from({ length: LOOPS }, async () => {
    for (let i = 0; i < MAX_PER_LOOP && !stop; i++) {
      const r = await fleet.op.run(['dev1-any', 'true'], { timeoutMs: 15_000 });
      results.push({ ok: r.code === 0, end: Date.now(), err: r.stderr.trim().slice(-300) });
    }
  });
  // Written by callbacks below, hence an object rather than narrowed locals.
  const seen: { movedMs: number | null; exitMs: number | null; exitCode: number | null } = {
    movedMs: null,
    exitMs: null,
    exitCode: null,
  };
  try {
    await waitFor(() => results.length >= 4, {
      what: 'a few connections before the drain',
      timeoutMs: 30_000,
    });
    const proc = from.proc!;
    signalled = Date.now();
    proc.signal('SIGTERM');
    const exited = proc.stopped().then((exit) => {
      seen.exitMs = Date.now() - signalled;
      seen.exitCode = exit.code;
    });
    await waitFor(
      async () => {
        const st = (await fleet.status()).state;
        return st.phase === 'connected' && st.relay === to.id;
      },
      { what: `the agent to move to ${to.alias}`, timeoutMs: 30_000, intervalMs: 20 },
    ).then(
      () => {
        seen.movedMs = Date.now() - signalled;
      },
      () => {},
    );
    await Promise.race([exited, sleep(30_000)]);
    // Keep the loops going for a while after the move (a duration, not a readiness wait).
    const tailEnd = signalled + (seen.movedMs ?? 0) + DRAIN_TAIL_MS;
    await sleep(Math.max(0, tailEnd - Date.now()));
  } finally {
    stop = true;
    await Promise.all(loops);
  }
  if (from.proc?.exit === undefined) await from.kill();
  await from.start();
  const failed = results.filter((r) => !r.ok);
  return {
    drain: d,
    from: from.alias,
    to: to.alias,
    connections: results.length,
    afterSignal: results.filter((r) => r.end >= signalled).length,
    failed: failed.length,
    movedMs: seen.movedMs,
    relayExitMs: seen.exitMs,
    relayExitCode: seen.exitCode,
    errors: [...new Set(failed.map((r) => r.err))].slice(0, 3),
  };
}

/** `dev1-any`: try the relay about to drain, then the other one. */
function setClient(fleet: Fleet, from: FleetRelay, to: FleetRelay): void {
  const ssh = `ssh -F ${fleet.op.configPath}`;
  fleet.op.addHost({
    alias: 'dev1-any',
    hostName: null,
    user: 'root',
    hostKeyAlias: 'dev1',
    options: {
      ProxyCommand: `sh -c '${ssh} -W dev1:22 ${from.alias} || ${ssh} -W dev1:22 ${to.alias}'`,
    },
  });
}
