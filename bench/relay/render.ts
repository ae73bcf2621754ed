/**
 * The relay benchmark's section of BENCHMARKS.md and its terminal summary. Pure: data in, text
 * out.
 */
import { describeMachine } from '../lib/machine.js';
import { type Cell, mdTable, textTable } from '../lib/report.js';
import { f1, largestIdle, n0, type RelayPhases, type RelayResults, TARGETS } from './results.js';
import {
  cipherRows,
  idleRows,
  latencyRows,
  minutes,
  runRows,
  scalingRows,
  statusCell,
  throughputRows,
} from './tables.js';

export function renderMarkdown(r: RelayResults): string {
  const p = r.phases;
  const machines = new Set(
    [p.throughput, p.latency, p.idle, p.opensshIdle]
      .filter(Boolean)
      .map((x) => describeMachine(x!.machine)),
  );
  const out: string[] = [];
  out.push('## relay: `burrow relay` vs an OpenSSH reverse jumphost');
  out.push('');
  out.push(
    `Reproduce with \`npm run bench -- relay\` (builds first; about ${minutes(p)} on this machine). Flags: ` +
      '`--devices N` (idle devices, default 10 000), `--phases throughput,latency,idle`, ' +
      '`--size 1G`, `--rounds 3`, `--latency-runs 30`, `--openssh-devices 200`, `--relay-ciphers LIST`, ' +
      '`--profile` (prints where the relays spend CPU; writes nothing), `--no-write`. ' +
      'A run of some phases replaces only those below; each says when and how it was measured.',
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
      r.targets.map((t) => [t.target, t.measured, statusCell(t)]),
    ),
  );
  if (p.throughput) {
    const tp = p.throughput.result;
    out.push('');
    out.push(`### Throughput: ${f1(tp.bytes / 2 ** 30)} GiB to the device`);
    out.push('');
    out.push(
      `\`head -c ${tp.bytes} /dev/zero | ssh <path> root@dev 'wc -c'\`, timed from start to exit ` +
        `(handshakes included), ${tp.rounds} rounds with the paths interleaved (order rotated each ` +
        'round), median reported. Hop CPU: the relay process (`/proc/<pid>/stat` utime+stime) for ' +
        "burrow; for OpenSSH the jumphost sshd's whole process tree (listener, per-connection " +
        "monitor and session processes, the recipe's `nc`), reaped children included.",
    );
    out.push('');
    out.push(
      mdTable(
        ['path', 'median MiB/s', 'burrow ÷ this', 'hop CPU-s per GiB', 'each round, MiB/s'],
        throughputRows(tp),
      ),
    );
  }
  if (p.latency) {
    const lat = p.latency.result;
    out.push('');
    out.push('### Connection latency: `ssh <path> root@dev true`');
    out.push('');
    out.push(
      `${lat.runs} runs per path after ${lat.warmup} warm-up rounds, paths interleaved; wall time ` +
        'from starting ssh to its exit (TCP, both handshakes, public-key auth, the command). ' +
        'Added p50 is against the faster of the two direct connections: OpenSSH over its own TCP ' +
        'socket sends NEWKEYS and the next request as two small writes, and the second waits for ' +
        "the server's delayed ACK (Nagle; seen with strace as a ~40 ms stall), while over a " +
        'ProxyCommand pipe, as with -J and the recipe, it does not.',
    );
    out.push('');
    out.push(
      mdTable(
        ['path', 'p50 ms', 'p95 ms', 'min ms', 'max ms', 'added p50 vs faster direct, ms'],
        latencyRows(lat),
      ),
    );
  }
  if (p.idle) {
    const idle = p.idle.result;
    out.push('');
    out.push(`### Idle devices: ${n0(idle.devices)} devices on one relay process`);
    out.push('');
    out.push(
      '`bench/loadgen.ts` (a separate process) opens one ssh2 connection per device, each with ' +
        'its own ed25519 key, and registers `dN:22` (policy: one `permitlisten="dN:22"` line per ' +
        'key), then keeps them open. The relay runs with `--max-startups 4096 ' +
        '--max-startups-per-source 100000` and writes its audit log to a file. RSS from ' +
        '`/proc/<pid>/status` before the load and three times over ' +
        `${f1(idle.idleWindowS)} s of idleness (median).`,
    );
    out.push('');
    out.push(mdTable(['', 'measured'], idleRows(idle, p.opensshIdle?.result)));
    const scaling = scalingRows(p);
    if (scaling.length > 1) {
      out.push('');
      out.push('The latest run for each device count measured:');
      out.push('');
      out.push(
        mdTable(
          [
            'devices',
            'KiB per device',
            'registrations/s',
            'relay CPU ms per registration',
            'idle CPU % of a core',
            'date',
            'command',
          ],
          scaling,
        ),
      );
    }
  }
  if (p.ciphers) {
    out.push('');
    out.push(
      '### Negotiated algorithms (from `ssh -v`; every client and sshd at OpenSSH defaults)',
    );
    out.push('');
    const code = (rows: Cell[][]) =>
      rows.map(([label, ...algs]) => [label!, ...algs.map((a) => `\`${a}\``)]);
    out.push(
      mdTable(
        ['connection', 'kex', 'host key', 'cipher', 'MAC'],
        code(cipherRows(p.ciphers.result)),
      ),
    );
  }
  out.push('');
  out.push('### How it is measured, and choices made');
  out.push('');
  out.push(METHOD_NOTES);
  const hard = largestIdle(p)?.result.fdHardLimit;
  if (hard !== undefined && Number.isFinite(hard) && hard < TARGETS.kibPerDeviceAt + 1024) {
    out.push(
      `- On the machine measured here the open-file hard limit is ${n0(hard)} and cannot be ` +
        `raised (no \`CAP_SYS_RESOURCE\` in this container), so ${n0(TARGETS.kibPerDeviceAt)} ` +
        `devices cannot run: the memory target is judged at the largest count measured, ` +
        `${n0(largestIdle(p)!.result.devices)}.`,
    );
  }
  return out.join('\n');
}

const METHOD_NOTES = `- Everything runs on 127.0.0.1: a real \`sshd\` as the device, the relay CLI as its own process,
  a second real \`sshd\` as the OpenSSH reverse jumphost (\`AllowTcpForwarding\`,
  \`AllowStreamLocalForwarding\`, \`StreamLocalBindUnlink yes\`; everything else at defaults), and the
  device's tunnels as plain \`ssh -N -R\` processes. Temporary keys, ports and configs; every process
  is stopped and every file removed at the end.
- Both OpenSSH baselines are measured: the zero-code recipe (device \`ssh -N -R /…/dev.sock:…\`,
  client \`ProxyCommand='ssh jump nc -U /…/dev.sock'\`) and the port form (device
  \`ssh -N -R 127.0.0.1:PORT:…\`, client \`ssh -J jump -p PORT root@127.0.0.1\` with \`HostKeyAlias\`).
  The throughput target must hold against both, i.e. against the faster one.
- No cipher tuning anywhere: the OpenSSH client and both sshds use their defaults, so OpenSSH to
  OpenSSH negotiates chacha20-poly1305. With the relay, the client picks the first cipher in *its*
  list that the relay offers (stock OpenSSH: chacha20-poly1305, aes128-ctr, …, aes128-gcm), so the
  relay's default offer decides; the table above shows what was negotiated. The inner, end-to-end
  session to the device is the same in every path. The load generator's ssh2 client prefers
  aes128-gcm.
- The machine is shared and has 2 cores that every process of a path competes for (client ssh, jump
  ssh, the hop, device ssh, device sshd, \`wc\`), so throughput measures the whole chain and is
  CPU-bound; hop CPU per GiB isolates the hop's own cost. Paths are interleaved round by round so
  background load hits them alike; only same-run ratios are meaningful.
- Latency includes starting \`ssh\` and running \`true\` through the device's sshd (a login
  shell), which dominate; the added p50 is the hop's share, against the faster direct path.
- Idle devices, memory: ΔRSS / N of the relay process (one process, so RSS ≈ PSS). The policy file
  with N keys is loaded before the "before" sample, so its cost is not in ΔRSS. For OpenSSH, the
  jumphost's process tree is summed as PSS (shared pages split between processes) and as RSS
  (shared pages counted once per process).
- Idle devices, registrations/s: the load generator (ssh2, one key each) runs on the same 2 cores
  as the relay, so the rate is bounded by both; their CPU seconds are shown separately.
- Idle devices, addresses: a relay listens on one address, and a connection to 127.0.0.2 does not
  reach a listener bound to 127.0.0.1 (checked: ECONNREFUSED). Rather than listen on 0.0.0.0, the
  relay always listens on 127.0.0.1 only, and above 20 000 devices the load generator spreads its
  connections over source addresses 127.0.0.1, 127.0.0.2, … (\`--source\`, bound with
  \`localAddress\`; one ephemeral port range per source address), at the cost of slower connects.
- Idle devices, file descriptors: the relay and the load generator each hold one socket per device
  and are started under \`ulimit -n\`, which only goes up to the hard limit unless the bench has
  \`CAP_SYS_RESOURCE\`. A device count that does not fit is refused up front, naming the most
  the machine can measure.
- Device keys are made in-process with burrow's own \`generateEd25519()\` (Node's ed25519 keygen as
  DER, written in OpenSSH's key format).`;

/** The terminal summary: every table of this run, plain text. */
export function renderSummary(r: RelayResults, ran: (keyof RelayPhases)[]): string {
  const p = r.phases;
  const out: string[] = ['', '=== relay benchmark summary ==='];
  out.push('');
  out.push(
    textTable(
      ['target', 'measured', 'result'],
      r.targets.map((t) => [t.target, t.measured, t.note ? `${t.status} (${t.note})` : t.status]),
    ),
  );
  if (p.throughput && ran.includes('throughput')) {
    out.push('');
    out.push(
      `Throughput (${f1(p.throughput.result.bytes / 2 ** 30)} GiB, median of ${p.throughput.result.rounds})`,
    );
    out.push(
      textTable(
        ['path', 'MiB/s', 'burrow ÷', 'hop CPU-s/GiB', 'rounds MiB/s'],
        throughputRows(p.throughput.result),
      ),
    );
  }
  if (p.latency && ran.includes('latency')) {
    out.push('');
    out.push(`Latency of ssh … true (${p.latency.result.runs} runs each)`);
    out.push(
      textTable(
        ['path', 'p50 ms', 'p95 ms', 'min', 'max', '+p50 vs faster direct'],
        latencyRows(p.latency.result),
      ),
    );
  }
  if (p.idle && ran.includes('idle')) {
    out.push('');
    out.push(`Idle devices (${n0(p.idle.result.devices)})`);
    out.push(
      textTable(
        ['', 'measured'],
        idleRows(
          p.idle.result,
          ran.includes('opensshIdle') ? p.opensshIdle?.result : undefined,
        ).map((row) => row.map((c) => String(c).replaceAll('**', ''))),
      ),
    );
  }
  if (p.ciphers && ran.includes('ciphers')) {
    out.push('');
    out.push('Negotiated algorithms');
    out.push(
      textTable(['connection', 'kex', 'host key', 'cipher', 'MAC'], cipherRows(p.ciphers.result)),
    );
  }
  return out.join('\n');
}
