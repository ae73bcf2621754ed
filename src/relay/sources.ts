import { isIP } from 'node:net';

/**
 * Which "source" a peer address belongs to, for the per-source caps and penalties: an IPv4
 * address is its own source, an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) is its IPv4
 * address, and an IPv6 address counts as its /64 (one subscriber usually holds a whole /64, so
 * counting single v6 addresses would hand an attacker 2^64 sources). Pure.
 */
export function sourceOf(addr: string | undefined): string {
  if (!addr) return '?';
  const bare = addr.replace(/%.*$/, '');
  if (isIP(bare) === 4) return bare;
  if (isIP(bare) !== 6) return addr.slice(0, 64);
  const groups = expandV6(bare);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `${groups[6]! >> 8}.${groups[6]! & 255}.${groups[7]! >> 8}.${groups[7]! & 255}`;
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (with `::` and a trailing dotted quad). */
function expandV6(addr: string): number[] {
  let text = addr.toLowerCase();
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (s: string) => (s ? s.split(':').map((g) => Number.parseInt(g, 16)) : []);
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const zeros = new Array<number>(8 - left.length - right.length).fill(0);
  return [...left, ...zeros, ...right];
}
