/**
 * Checks on a cluster of relay processes (helpers/cluster.ts) under faults: who holds a name
 * (registry and every relay's local table must agree on exactly one), and operators running
 * `ssh -J VIA NAME true` back to back, each attempt's outcome and duration kept.
 */
import type { Cluster, ClusterNode } from './cluster.js';
import { waitFor } from './wait.js';

export interface Attempt {
  readonly ok: boolean;
  readonly ms: number;
  /** Date.now() when it ended. */
  readonly at: number;
  readonly err: string;
}

/** Operators running `ssh -J VIA NAME true` back to back until stop(), each bounded by `timeoutMs`. */
export function operatorLoop(
  c: Cluster,
  via: ClusterNode,
  name: string,
  loops = 2,
  timeoutMs = 30_000,
) {
  const results: Attempt[] = [];
  let stopped = false;
  const running = Array.from({ length: loops }, async () => {
    while (!stopped) {
      const r = await c.op.run(['-J', via.alias, name, 'true'], { timeoutMs });
      results.push({
        ok: r.code === 0,
        ms: r.durationMs,
        at: Date.now(),
        err: r.stderr.trim().split('\n').join(' | '),
      });
    }
  });
  return {
    results,
    okSince: (t: number) => results.filter((r) => r.ok && r.at > t).length,
    async stop(): Promise<Attempt[]> {
      stopped = true;
      await Promise.all(running);
      return results;
    },
  };
}

/**
 * Every name has a record naming a live relay, that relay's local table serves it, and no other
 * live relay's table does. Returns what disagrees, or '' when so. `record` reads the registry
 * (default: the cluster's own Redis).
 */
export function disagreement(
  c: Cluster,
  names: readonly string[],
  record: (name: string) => { relayId?: string } = c.record,
): string {
  const live = c.nodes.filter((n) => n.alive);
  const tables = new Map(live.map((n) => [n, n.table()]));
  const out: string[] = [];
  for (const name of names) {
    const rec = record(name);
    const holders = live.filter((n) => tables.get(n)?.has(name)).map((n) => n.alias);
    const named = live.find((n) => n.id === rec.relayId);
    if (holders.length !== 1 || holders[0] !== named?.alias) {
      out.push(`${name}: registry ${named?.alias ?? rec.relayId}, tables [${holders.join(',')}]`);
    }
  }
  return out.join('; ');
}

/** The number of live relays whose local table serves `name` (more than one is a double holder). */
export function tableHolders(c: Cluster, name: string): number {
  return c.nodes.filter((n) => n.alive && n.table().has(name)).length;
}

/** Waits until disagreement() is empty; the error names what still disagreed. */
export async function settled(
  c: Cluster,
  names: readonly string[],
  what: string,
  timeoutMs = 15_000,
  record: (name: string) => { relayId?: string } = c.record,
) {
  let last = '';
  try {
    await waitFor(
      () => {
        last = disagreement(c, names, record);
        return last === '';
      },
      { what, timeoutMs, intervalMs: 100 },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}: ${last}`);
  }
}
