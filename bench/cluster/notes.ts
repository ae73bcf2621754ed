/** Computed remarks under the cluster benchmark's tables. Pure. */
import { f1, f2, n0 } from '../relay/results.js';

/** `1 234 ms`, or `capped` when the phase gave up waiting. */
export const ms0 = (x: number | null) => (x === null ? 'capped' : `${n0(x)} ms`);

/** `all 1`, or `1 (×18), 2 (×2)`: how many attempts the rounds took, fewest first. */
export function attemptCounts(v: readonly number[]): string {
  const counts = new Map<number, number>();
  for (const x of v) counts.set(x, (counts.get(x) ?? 0) + 1);
  if (counts.size === 1) return `all ${v[0]}`;
  return [...counts.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([n, c]) => `${n} (×${c})`)
    .join(', ');
}

/**
 * What the ±15% band means for a placement that is uniformly random (each agent's shuffled list):
 * a survivor's count is then Binomial(N, ½), and the band is ±0.15·N/2 around N/2.
 */
export function binomialNote(n: number): string {
  const sd = Math.sqrt(n) / 2;
  const band = (0.15 * n) / 2;
  return (
    `If placement were uniformly random, a survivor's count would be Binomial(${n}, ½): sd ${f1(sd)} ` +
    `agents, so ±15% (±${f1(band)}) is ±${f2(band / sd)} sd.`
  );
}
