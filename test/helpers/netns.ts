/**
 * Real network faults for integration tests: a link whose middle is a veth pair between two
 * network namespaces the test creates, where the kernel loses, drops, delays and rate-limits
 * packets.
 *
 *   client ─tcp─▶ 127.0.0.1:port ─unix─▶ [ns a] ─tcp over veth a⇄b─▶ [ns b] ─unix─▶ 127.0.0.1:target
 *
 * The programs under test (relays, agents, ssh, rsync) keep running on loopback and connect to
 * `link.port` instead of `target`; only the forwarders at each end of the veth run inside the
 * namespaces (`ip netns exec`), passing the connection on through unix sockets, which reach across
 * namespaces by path. So every byte between client and target crosses a real kernel TCP connection
 * over the veth, with its retransmissions, window stalls and timers, while the faults applied to
 * that veth cannot touch anything else on the machine:
 *
 * - loss(p): `iptables -m statistic --mode random --probability p -j DROP`, both directions;
 * - blackhole(): iptables DROP both ways (no RST, no FIN: silence);
 * - oneWay('a->b' | 'b->a'): iptables DROP in one direction only;
 * - rate(kbit): `tc qdisc tbf` on both veth ends;
 * - delayMs (at start): the forwarder in ns b holds every chunk that long in each direction (this
 *   kernel has no netem), so the round trip grows by 2 × delayMs.
 *
 * Addresses are 10.231.0.1/30 (ns a) and 10.231.0.2/30 (ns b), and exist only in those two
 * namespaces. Names carry the test process's pid and a counter; the namespaces are deleted when
 * the scope closes (after the forwarders are stopped), and namespaces left by a test process that
 * died are deleted by the next startLink().
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { type Proc, startProc } from './proc.js';
import type { Scope } from './scope.js';
import { tmpDir } from './tmp.js';

const PREFIX = 'brw';
const FORWARDER = new URL('./netns-forward.js', import.meta.url).pathname;
const ADDR_A = '10.231.0.1';
const ADDR_B = '10.231.0.2';
let counter = 0;

export type Direction = 'a->b' | 'b->a';

export interface FaultLink {
  /** The loopback port to connect to instead of the target's. */
  readonly port: number;
  /** `127.0.0.1:port`. */
  readonly addr: string;
  /** The two namespaces (a: the client's side, b: the target's side). */
  readonly ns: { a: string; b: string };
  /** Drops each packet with probability p in both directions (replaces earlier loss). */
  loss(p: number): void;
  /** Drops everything both ways. */
  blackhole(): void;
  /** Drops everything going one way; the other way still flows. */
  oneWay(dir: Direction): void;
  /** Removes every drop rule (loss, blackhole, one-way); a rate limit stays. */
  heal(): void;
  /** Limits each direction to `kbit` kilobits per second with tc tbf. */
  rate(kbit: number): void;
}

function ip(args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (r.error) return { ok: false, out: r.error.message };
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}`.trim() };
}

function must(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.trim()}`);
}

function inNs(ns: string, cmd: string, args: string[]): void {
  must('ip', ['netns', 'exec', ns, cmd, ...args]);
}

let probed: string | undefined | null = null;

/**
 * Why network namespaces cannot be used here (not root, `ip` or `iptables` missing, the kernel
 * forbids creating a namespace or a veth pair), or undefined when they can. Probed once.
 */
export function netnsUnavailable(): string | undefined {
  if (probed !== null) return probed;
  probed = probe();
  return probed;
}

function probe(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  for (const cmd of ['ip', 'iptables', 'tc']) {
    const r = spawnSync(cmd, ['-V'], { encoding: 'utf8' });
    if (r.error) return `${cmd} is not installed (Debian: iproute2, iptables)`;
  }
  const ns = `${PREFIX}-${process.pid}-probe`;
  const add = ip(['netns', 'add', ns]);
  if (!add.ok) return `the kernel forbids network namespaces here: ${add.out}`;
  try {
    const veth = ip(['-n', ns, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p1']);
    if (!veth.ok) return `the kernel forbids veth pairs here: ${veth.out}`;
    return undefined;
  } finally {
    ip(['netns', 'del', ns]);
  }
}

/** Deletes namespaces of ours whose test process is gone. */
function sweepStale(): void {
  const list = ip(['netns', 'list']);
  for (const line of list.out.split('\n')) {
    const m = new RegExp(`^(${PREFIX}-(\\d+)-\\S+)`).exec(line);
    if (!m) continue;
    try {
      process.kill(Number(m[2]), 0);
    } catch {
      ip(['netns', 'del', m[1] as string]);
    }
  }
}

function forwarder(s: Scope, ns: string | undefined, name: string, args: string[]): Proc {
  const cmd = [process.execPath, FORWARDER, ...args];
  return ns
    ? startProc(s, 'ip', ['netns', 'exec', ns, ...cmd], { name, stdin: 'ignore' })
    : startProc(s, cmd[0] as string, cmd.slice(1), { name, stdin: 'ignore' });
}

async function listeningPort(p: Proc): Promise<number> {
  const m = await p.waitForLine(/^listening (\d+)$/, { stream: 'stdout' });
  return Number(m[1]);
}

/**
 * A link from a new loopback port to `127.0.0.1:target` across a fresh veth pair between two new
 * namespaces (see the top of this file). Throws when namespaces are unavailable: check
 * netnsUnavailable() first and skip, saying why.
 */
export async function startLink(
  s: Scope,
  target: number,
  opts: { delayMs?: number; name?: string } = {},
): Promise<FaultLink> {
  const why = netnsUnavailable();
  if (why) throw new Error(why);
  sweepStale();
  const n = ++counter;
  const a = `${PREFIX}-${process.pid}-${n}a`;
  const b = `${PREFIX}-${process.pid}-${n}b`;
  const label = opts.name ?? `link${n}`;
  must('ip', ['netns', 'add', a]);
  s.defer(() => void ip(['netns', 'del', a]), `delete netns ${a}`);
  must('ip', ['netns', 'add', b]);
  s.defer(() => void ip(['netns', 'del', b]), `delete netns ${b}`);
  must('ip', ['-n', a, 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth1']);
  must('ip', ['-n', a, 'link', 'set', 'veth1', 'netns', b]);
  must('ip', ['-n', a, 'addr', 'add', `${ADDR_A}/30`, 'dev', 'veth0']);
  must('ip', ['-n', b, 'addr', 'add', `${ADDR_B}/30`, 'dev', 'veth1']);
  for (const [ns, dev] of [
    [a, 'veth0'],
    [b, 'veth1'],
  ] as const) {
    must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    must('ip', ['-n', ns, 'link', 'set', dev, 'up']);
  }

  const dir = await tmpDir(s, 'burrow-netns-');
  const sockA = join(dir, 'a.sock');
  const sockB = join(dir, 'b.sock');
  // Built from the target's end back to the client's, each listening before the next connects.
  const exit = forwarder(s, undefined, `${label} exit`, [
    `unix:${sockB}`,
    `tcp:127.0.0.1:${target}`,
  ]);
  await listeningPort(exit);
  const inB = forwarder(s, b, `${label} ns b`, [
    `tcp:${ADDR_B}:0`,
    `unix:${sockB}`,
    String(opts.delayMs ?? 0),
  ]);
  const portB = await listeningPort(inB);
  const inA = forwarder(s, a, `${label} ns a`, [`unix:${sockA}`, `tcp:${ADDR_B}:${portB}`]);
  await listeningPort(inA);
  const entry = forwarder(s, undefined, `${label} entry`, ['tcp:127.0.0.1:0', `unix:${sockA}`]);
  const port = await listeningPort(entry);

  // Drop rules live in one chain per namespace, on OUTPUT of the veth: ns a's OUTPUT is a→b.
  const chain = 'BURROW_FAULT';
  for (const ns of [a, b]) {
    inNs(ns, 'iptables', ['-N', chain]);
    inNs(ns, 'iptables', ['-A', 'OUTPUT', '-o', ns === a ? 'veth0' : 'veth1', '-j', chain]);
  }
  const flush = (): void => {
    for (const ns of [a, b]) inNs(ns, 'iptables', ['-F', chain]);
  };
  const drop = (ns: string, extra: string[] = []): void =>
    inNs(ns, 'iptables', ['-A', chain, ...extra, '-j', 'DROP']);

  return {
    port,
    addr: `127.0.0.1:${port}`,
    ns: { a, b },
    loss(p) {
      flush();
      for (const ns of [a, b]) {
        drop(ns, ['-m', 'statistic', '--mode', 'random', '--probability', String(p)]);
      }
    },
    blackhole() {
      flush();
      drop(a);
      drop(b);
    },
    oneWay(dir) {
      flush();
      drop(dir === 'a->b' ? a : b);
    },
    heal: flush,
    rate(kbit) {
      for (const [ns, dev] of [
        [a, 'veth0'],
        [b, 'veth1'],
      ] as const) {
        const tbf = ['tbf', 'rate', `${kbit}kbit`, 'burst', '16kb', 'latency', '500ms'];
        inNs(ns, 'tc', ['qdisc', 'replace', 'dev', dev, 'root', ...tbf]);
      }
    },
  };
}
