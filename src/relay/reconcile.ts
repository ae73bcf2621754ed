/**
 * Cluster-wide ownership, the pure part: what a relay does with its local registrations once the
 * shared registry says a name it serves is held elsewhere. No I/O, no clock.
 *
 * Contract:
 * - `observed` is what the registry said, read no earlier than `observedAt` (the start of the
 *   heartbeat or lookup that returned it). A local registration made at or after `observedAt` is
 *   newer than that answer and is never touched: a device that moved back here meanwhile keeps
 *   its name.
 * - A name held by the same key on another relay moved there: the local connection is stale and
 *   is closed (`moved`), as a takeover on one relay closes the previous connection.
 * - A name held by another key (on any relay, including a record claiming this relay: the
 *   registry and this table disagree) was taken meanwhile, e.g. while the registry was
 *   unreachable and both relays accepted it: the local holder loses it (`dropped`) and its
 *   connection is closed, so its agent retries and is told `name-held`.
 * - One action per (connection, name), however many ports it held; a record this relay really
 *   holds (same key, same relay) yields nothing.
 */

/** One route of the local table, as the reconciler sees it. */
export interface LocalHold {
  readonly name: string;
  readonly port: number;
  /** Key fingerprint that registered it. */
  readonly owner: string;
  /** Id of the connection serving it. */
  readonly conn: string;
  /** When it entered the local table (ms epoch). */
  readonly since: number;
}

/** Who the registry says holds a name. */
export interface Observed {
  readonly name: string;
  readonly owner: string;
  readonly relayId: string;
}

export type ReconcileAction =
  | { kind: 'moved'; conn: string; name: string; owner: string; toRelay: string }
  | {
      kind: 'dropped';
      conn: string;
      name: string;
      owner: string;
      heldBy: string;
      heldByRelay: string;
    };

export function reconcile(
  relayId: string,
  local: readonly LocalHold[],
  observed: readonly Observed[],
  observedAt: number,
): ReconcileAction[] {
  const byName = new Map<string, Observed>();
  for (const o of observed) byName.set(o.name, o);
  const actions: ReconcileAction[] = [];
  const seen = new Set<string>();
  for (const l of local) {
    const o = byName.get(l.name);
    if (!o || l.since >= observedAt) continue;
    if (o.relayId === relayId && o.owner === l.owner) continue;
    const key = `${l.conn}\n${l.name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (o.owner === l.owner) {
      actions.push({
        kind: 'moved',
        conn: l.conn,
        name: l.name,
        owner: l.owner,
        toRelay: o.relayId,
      });
    } else {
      actions.push({
        kind: 'dropped',
        conn: l.conn,
        name: l.name,
        owner: l.owner,
        heldBy: o.owner,
        heldByRelay: o.relayId,
      });
    }
  }
  return actions;
}
