import type { HeldRoute } from './registry.js';

/**
 * Held routes grouped by name, ports ascending. A name a relay lists under two owners is a bug
 * in the caller; the first owner wins.
 */
export function groupHeld(
  held: readonly HeldRoute[],
): Map<string, { owner: string; ports: number[] }> {
  const byName = new Map<string, { owner: string; ports: number[] }>();
  for (const h of held) {
    const entry = byName.get(h.name);
    if (!entry) byName.set(h.name, { owner: h.owner, ports: [h.port] });
    else if (entry.owner === h.owner && !entry.ports.includes(h.port)) entry.ports.push(h.port);
  }
  for (const entry of byName.values()) entry.ports.sort((x, y) => x - y);
  return byName;
}
