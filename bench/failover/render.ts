/**
 * The failover benchmark's section of BENCHMARKS.md and its terminal summary. Pure: data in, text
 * out.
 */
import { describeMachine } from '../lib/machine.js';
import { type Cell, formatDuration, mdTable, textTable } from '../lib/report.js';
import type { DrainResult } from './drain.js';
import type { SeriesStats } from './probe.js';
import type { DeathSample, ProcessDeathResult } from './process-death.js';
import { RESTART_SEC } from './recipe.js';
import {
  type FailoverPhases,
  type FailoverResults,
  type Phase,
  type PhaseRecord,
  secs,
} from './results.js';
import type { LossSample, SilentLossResult } from './silent-loss.js';

const BURROW = 'burrow agent';
const RECIPE = 'autossh + supervisor (OpenSSH recipe)';

function statsRow(label: string, s: SeriesStats): Cell[] {
  const capped = s.capped ? ` (${s.capped} capped at ${secs(s.capMs, 0)})` : '';
  return [
    label,
    `${s.count}${capped}`,
    secs(s.p50Ms),
    secs(s.p90Ms),
    secs(s.p99Ms),
    secs(s.maxMs),
    secs(s.minMs),
  ];
}

const STATS_HEADERS = ['system', 'samples', 'p50', 'p90', 'p99', 'max', 'min'];

function sampleList(samples: readonly { ms: number | null }[], digits = 2): string {
  return samples.map((s) => (s.ms === null ? 'capped' : (s.ms / 1000).toFixed(digits))).join(', ');
}

/** Median of the device side's own marks, e.g. the agent's `registered on`, in ms. */
function medianOf(values: (number | null)[]): number | null {
  const v = values.filter((x): x is number => x !== null).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

export function deathRows(d: ProcessDeathResult): Cell[][] {
  return [statsRow(BURROW, d.burrow.stats), statsRow(RECIPE, d.recipe.stats)];
}

export function lossRows(l: SilentLossResult): Cell[][] {
  const row = (label: string, samples: LossSample[]) => [
    label,
    sampleList(samples, 1),
    secs(Math.max(...samples.map((s) => s.ms ?? Number.POSITIVE_INFINITY)), 1),
    samples.map((s) => secs(s.detectedMs, 1)).join(', '),
    samples.map((s) => secs(s.reconnectedMs, 1)).join(', '),
  ];
  return [row(BURROW, l.burrow.samples), row(RECIPE, l.recipe.samples)];
}

export function drainRows(d: DrainResult): Cell[][] {
  return d.samples.map((s) => [
    s.drain,
    `${s.from} → ${s.to}`,
    secs(s.movedMs),
    `${secs(s.relayExitMs)} (exit ${s.relayExitCode ?? '?'})`,
    s.connections,
    s.afterSignal,
    s.failed,
  ]);
}

const DRAIN_HEADERS = [
  'drain',
  'relays',
  'agent moved after',
  'relay exited after',
  'connections',
  'after SIGTERM',
  'failed',
];

function runRows(p: FailoverPhases): Cell[][] {
  const rows: Cell[][] = [];
  for (const [name, r] of Object.entries(p) as [Phase, PhaseRecord<unknown>][]) {
    rows.push([
      name,
      r.date.replace('T', ' ').replace(/\.\d+Z$/, ' UTC'),
      `\`${r.command}\``,
      formatDuration(r.durationS * 1000),
      r.machine.loadAvg1,
    ]);
  }
  return rows;
}

function minutes(p: FailoverPhases): string {
  const s = Object.values(p).reduce((sum, r) => sum + (r?.durationS ?? 0), 15);
  const m = Math.max(1, Math.ceil(s / 60));
  return `${m} minute${m === 1 ? '' : 's'}`;
}

function deviceMarks(samples: DeathSample[]): string {
  return secs(medianOf(samples.map((s) => s.deviceMs)));
}

export function renderMarkdown(r: FailoverResults): string {
  const p = r.phases;
  const machines = new Set(Object.values(p).map((x) => describeMachine(x!.machine)));
  const out: string[] = [];
  out.push('## failover: `burrow agent` vs autossh + systemd (`Restart=always`, `RestartSec=5`)');
  out.push('');
  out.push(
    `Reproduce with \`npm run bench -- failover\` (builds first; about ${minutes(p)} on this ` +
      'machine). Flags: `--kills N` (process-death rounds per system, default 20; at least 20 ' +
      'for a recorded result), `--phases process-death,silent-loss,drain`, `--no-write`. A run ' +
      'of some phases replaces only those below; each says when and how it was measured.',
  );
  out.push('');
  out.push(mdTable(['phase', 'measured', 'command', 'took', 'load average at start'], runRows(p)));
  out.push('');
  for (const m of machines) out.push(`Machine: ${m}.`);
  out.push('');
  out.push('### Targets');
  out.push('');
  out.push(
    mdTable(
      ['target', 'measured', 'result'],
      r.targets.map((t) => [
        t.target,
        t.measured,
        t.status === 'not measured' ? t.status : `**${t.status}**`,
      ]),
    ),
  );
  const death = p['process-death']?.result;
  if (death) {
    out.push('');
    out.push(`### Process death: \`kill -9\` of the relay in use, ${death.kills} times each`);
    out.push('');
    out.push(
      'Clock from the kill to the exit of the first `ssh -J <other relay> … true` that succeeds ' +
        '(operator attempts back to back, 50 ms apart, each with `ConnectTimeout=2`). burrow: ' +
        '`kill -9` of the `burrow relay` process. Recipe: `kill -9` of the relay sshd, its ' +
        'listener and every per-connection process (killing only the listener leaves the ' +
        "device's tunnel working in its per-connection process, which is no relay failure). The " +
        'killed relay is restarted on its port before the next round.',
    );
    out.push('');
    out.push(mdTable(STATS_HEADERS, deathRows(death)));
    out.push('');
    out.push(
      `Median time to the device side's own mark: the agent logging \`registered on\` the other ` +
        `relay ${deviceMarks(death.burrow.samples)}; the supervisor starting autossh towards the ` +
        `other relay ${deviceMarks(death.recipe.samples)} (its ${RESTART_SEC} s restart delay). ` +
        `The agent counted ${death.burrow.agentReconnects} reconnects for ${death.kills} kills.`,
    );
    out.push('');
    out.push(`Every sample, seconds: burrow ${sampleList(death.burrow.samples)}.`);
    out.push(`Recipe ${sampleList(death.recipe.samples)}.`);
    const st = death.stockAutossh;
    if (st) {
      out.push('');
      out.push(
        `Stock autossh (\`AUTOSSH_GATETIME=0\`, no \`AUTOSSH_MAXSTART\`) with its relay dead for ` +
          `${st.downS} s: ${st.stillRunning ? 'still running' : 'exited'}, having started ssh ` +
          `${st.sshStartsWhileDown} times against the dead relay, so a \`Restart=\` supervisor ` +
          `${st.stillRunning ? 'never runs and the device never moves to another relay' : 'got to restart it'}. ` +
          `After the relay came back it was reachable again in ${st.backAfterRestartMs === null ? `more than ${secs(st.capMs, 0)}` : secs(st.backAfterRestartMs, 1)} ` +
          '(autossh backs off between restarts).',
      );
    }
  }
  const loss = p['silent-loss']?.result;
  if (loss) {
    out.push('');
    out.push(`### Silent loss: the relay in use blackholed, ${loss.samples} samples each`);
    out.push('');
    out.push(
      'A TCP proxy between the device and each relay stops forwarding in both directions and ' +
        'closes nothing. Clock from the blackhole to the first successful `ssh -J <other relay> ' +
        `… true\`. Defaults on both sides: the agent's keepalive every ${loss.agentKeepalive.intervalS} s, ` +
        `dead after ${loss.agentKeepalive.count} silent intervals; the recipe's ` +
        `\`ServerAliveInterval=${loss.serverAlive.interval}\` × \`ServerAliveCountMax=${loss.serverAlive.countMax}\`, ` +
        `then the supervisor's ${RESTART_SEC} s restart on the other relay. Detected: burrow, the ` +
        'agent logs `keepalive-timeout`; recipe, autossh exits (its ssh gave up). Reconnected: ' +
        "the agent's `registered on`; the supervisor starting autossh on the other relay.",
    );
    out.push('');
    out.push(
      mdTable(
        ['system', 'samples, s', 'max', 'detected after', 'reconnect started/registered after'],
        lossRows(loss),
      ),
    );
  }
  const drain = p.drain?.result;
  if (drain) {
    out.push('');
    out.push(`### Drain (burrow only): SIGTERM of the relay in use, ${drain.drains} times`);
    out.push('');
    out.push(
      `${drain.loops} client loops of \`ssh dev1-any true\` run throughout, \`dev1-any\` being ` +
        "`ProxyCommand=sh -c 'ssh -W dev1:22 <draining relay> || ssh -W dev1:22 <other relay>'`; " +
        `they go on ${drain.tailS} s after the agent's status names the other relay. The ` +
        'drained relay is restarted and the next drain is of the other one. The OpenSSH recipe ' +
        'has nothing to compare: stopping its sshd cuts the tunnel, as in process death.',
    );
    out.push('');
    out.push(mdTable(DRAIN_HEADERS, drainRows(drain)));
    out.push('');
    out.push(`Total: ${drain.connections} connections, ${drain.failed} failed.`);
  }
  out.push('');
  out.push('### How it is measured, and choices made');
  out.push('');
  out.push(METHOD_NOTES);
  return out.join('\n');
}

const METHOD_NOTES = `- Everything runs on 127.0.0.1 on one machine, in the same run: burrow relays as CLI processes, a
  real \`burrow agent\`, a real \`sshd\` as the device, two more real \`sshd\`s as the recipe's relays
  (\`GatewayPorts no\`, \`AllowTcpForwarding yes\`, \`ClientAliveInterval 10\`, \`ClientAliveCountMax 3\`),
  and stock OpenSSH \`ssh\` for the operator. burrow and the recipe take turns round by round.
- The recipe on the device: \`autossh -M 0 -N -o ServerAliveInterval=10 -o ServerAliveCountMax=3
  -o ExitOnForwardFailure=yes -R PORT:127.0.0.1:<device sshd> relayX\` with \`AUTOSSH_GATETIME=0\`,
  under a shell loop standing in for systemd \`Restart=always\` + \`RestartSec=5\`, which takes the
  next relay on each restart. That rotation is the recipe's only failover; autossh and ssh know
  one relay.
- Stock autossh never exits when its ssh loses the relay: it restarts ssh against the same relay,
  backing off (checked above). A supervisor around it therefore never gets to pick another relay.
  To give the recipe a failover at all, the supervised autossh runs with \`AUTOSSH_MAXSTART=1\`, so it
  exits with its ssh and the supervisor restarts it, on the other relay, 5 s later. This is the
  recipe's best case.
- The recipe's relays share this machine's loopback, so each has its own tunnel port; the operator
  reaches the device with \`ssh -J relayX -p PORT root@127.0.0.1 true\` and checks the device's host
  key under \`HostKeyAlias dev1\`. burrow's operator runs \`ssh -J relayX dev1 true\`.
- The operator's attempts run one after another, 50 ms apart, from the fault on, each bounded
  (\`ConnectTimeout=2\`, killed after 8 s); a time includes the last, successful \`ssh … true\`
  itself (about a quarter of a second here, see the relay section's latency), so it is the time
  until an operator who keeps trying gets in.
- Before each fault the operator reaches the device through the relay in use, so every round
  starts from a working path. For silent loss this means the link carried traffic just before the
  blackhole, the worst case for both: the agent's watchdog (no byte for 5 s × 2, checked once a
  second) takes its full 10–11 s, and ssh sends its first ServerAlive probe 10 s after the last
  packet. A link that had been idle for a while before the loss is declared dead sooner.
- Silent loss: the agent verifies relay host keys per host:port, so each proxy's port is in its
  known_hosts with the relay's key. After each sample the proxy is resumed and the stale
  connection left to close before the next.
- The agent runs with its defaults (keepalive 5 s × 2, connect timeout 10 s); the relays with
  theirs (drain grace 10 s).`;

/** The terminal summary. */
export function renderSummary(r: FailoverResults, ran: readonly Phase[]): string {
  const p = r.phases;
  const out: string[] = ['', '=== failover benchmark summary ==='];
  out.push('');
  out.push(
    textTable(
      ['target', 'measured', 'result'],
      r.targets.map((t) => [t.target, t.measured, t.status]),
    ),
  );
  const death = p['process-death']?.result;
  if (death && ran.includes('process-death')) {
    out.push('');
    out.push(
      `Process death (kill -9 of the relay in use, ${death.kills} each): time until ssh -J <other> works`,
    );
    out.push(textTable(STATS_HEADERS, deathRows(death)));
    const st = death.stockAutossh;
    if (st) {
      out.push(
        `Stock autossh, relay dead ${st.downS} s: ${st.stillRunning ? 'still running' : 'exited'}, ` +
          `${st.sshStartsWhileDown} ssh starts against the dead relay; back ` +
          `${secs(st.backAfterRestartMs, 1)} after the relay restarted.`,
      );
    }
  }
  const loss = p['silent-loss']?.result;
  if (loss && ran.includes('silent-loss')) {
    out.push('');
    out.push('Silent loss (blackholed relay): time until ssh -J <other> works');
    out.push(
      textTable(
        ['system', 'samples, s', 'max', 'detected after', 'reconnected after'],
        lossRows(loss),
      ),
    );
  }
  const drain = p.drain?.result;
  if (drain && ran.includes('drain')) {
    out.push('');
    out.push(
      `Drain (SIGTERM of the relay in use, burrow only): ${drain.failed} failed of ${drain.connections}`,
    );
    out.push(textTable(DRAIN_HEADERS, drainRows(drain)));
  }
  return out.join('\n');
}
