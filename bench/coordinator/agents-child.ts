/**
 * One process of the agents phase (bench/coordinator/agents.ts starts several): runs a slice of
 * the devices through the agent's library as `burrow agent --coordinator URL` runs them
 * (test/helpers/placed-agent.ts: `startAgent` with `askPlacement`, the known_hosts check, no
 * `--relay` list), all started on the wall-clock time the parent gives, and records where each
 * agent's time went.
 *
 * Usage: node agents-child.js --keys FILE --from I --to J --url URL --known-hosts FILE
 *                             --start-at MS_EPOCH --cap-ms MS --out FILE
 * Output: once every agent of the slice is registered (or the cap passed), FILE holds one
 * `AgentTrace` per agent (times in ms after start-at) and `done` goes to stdout; the agents stay
 * registered until SIGTERM, so the parent reads the spread and Redis with all of them up.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Agent, hostKeyTrust } from '../../src/agent/index.js';
import { startPlacedAgent } from '../../test/helpers/placed-agent.js';

/** What one agent did, in ms after the common start. */
export interface AgentTrace {
  name: string;
  /** Relay it is registered on (`host:port`), if it is. */
  relay?: string;
  /** When its supervisor said connected (every forward registered). */
  connectedMs?: number;
  /** Placement questions: when asked, when answered, and whether the answer was usable. */
  placements: { at: number; ms: number; ok: boolean }[];
  /** Connection attempts: when the host key was checked (the key exchange's reply arrived). */
  hostKeyAt: number[];
  /** Last attempt that began: when its placement answer came (it connects right after). */
  lastAnsweredMs?: number;
  /** Errors met (failed questions and attempts), and the last one. */
  errors: number;
  lastError?: string;
  phase: string;
}

function arg(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (v === undefined) throw new Error(`--${name} is required`);
  return v;
}

const devices = readFileSync(arg('keys'), 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l) as { name: string; key: string })
  .slice(Number(arg('from')), Number(arg('to')));
const url = arg('url');
const startAt = Number(arg('start-at'));
const capMs = Number(arg('cap-ms'));
const out = arg('out');
const trust = hostKeyTrust({ pinned: [], knownHostsFile: arg('known-hosts'), acceptNew: false });
const since = () => Date.now() - startAt;

await sleep(Math.max(0, startAt - Date.now()));
const traces: AgentTrace[] = [];
const agents: Agent[] = [];
for (const d of devices) {
  const trace: AgentTrace = { name: d.name, placements: [], hostKeyAt: [], errors: 0, phase: '' };
  traces.push(trace);
  let seen: unknown;
  let asked = 0;
  const agent = startPlacedAgent({
    name: d.name,
    privateKey: d.key,
    targetPort: 9,
    coordinator: url,
    trust,
    backoffCapMs: 30_000,
    onAsk: () => {
      asked = since();
    },
    onAnswer: (a) => {
      const ok = !('error' in a) && a.relays.length > 0;
      trace.placements.push({ at: asked, ms: since() - asked, ok });
      if (ok) trace.lastAnsweredMs = since();
    },
    onHostKey: () => trace.hostKeyAt.push(since()),
    onState: (s) => {
      const e = s.lastError;
      if (e && e !== seen) {
        seen = e;
        trace.errors++;
        trace.lastError = `${e.reason}: ${e.message.slice(0, 80)}`;
      }
      if (s.phase === 'connected' && trace.connectedMs === undefined) {
        trace.connectedMs = since();
        if (s.relay !== undefined) trace.relay = s.relay;
      }
    },
    onExit: (code, message) => {
      if (code !== 0) process.stderr.write(`agent ${d.name} exited ${code}: ${message}\n`);
    },
  });
  agents.push(agent);
}

const deadline = startAt + capMs;
while (Date.now() < deadline && traces.some((t) => t.connectedMs === undefined)) {
  await sleep(50);
}
for (const [i, a] of agents.entries()) {
  const s = a.status();
  const t = traces[i]!;
  t.phase = s.phase;
  if (s.phase === 'connected' && s.relay !== undefined) t.relay = s.relay;
  else delete t.relay;
}
writeFileSync(out, JSON.stringify(traces));
process.stdout.write('done\n');

const stop = () => {
  for (const a of agents) a.close();
  setTimeout(() => process.exit(0), 200).unref();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
