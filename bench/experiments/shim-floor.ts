/**
 * Experiment, not a measured target: `npm run bench -- experiments/shim-floor [--size 1G] [--rounds 3]`.
 * What it showed: bare event-loop Node pipes in the shim's two places cost +8.4% over ssh, blocking readSync/writeSync loops −1.1%: the cost is relaying from the event loop, not copying bytes (BENCHMARKS.md, "What was tried for the shim's data path and did not help"). A C process that only splices stdin to stdout in each place uses 0.93 to 1.06 CPU-s per GiB for the two (BENCHMARKS.md, "The floor measured").
 *
 * `--floor`: what any design that relays the bytes through Node costs here, printed and not
 * recorded. The shim puts two Node processes in each byte's path (the local shim in front of
 * ssh's stdin, the holder in front of the command's stdin); this runs the same rsync with a bare
 * Node pipe in each of those places instead, one that only reads and writes (no framing, no
 * replay, no acknowledgements), next to plain ssh and the shim, alternating, and reports the
 * medians and each pipe's CPU.
 *
 *   ssh                   rsync -e ssh                                      (the baseline)
 *   remote pipe           ... --rsync-path=<pipe in front of rsync --server>
 *   two pipes             ... -e <pipe in front of ssh> and that --rsync-path
 *   two blocking pipes    the same two places, each pipe a loop of blocking readSync/writeSync
 *                         (no event loop): what Node costs when it relays with blocking I/O
 *   two C splice pipes    the same two places, each a C process (shim-floor.c, compiled here
 *                         with `cc -O2`) that moves stdin to stdout by splice(2): what any
 *                         process in those places costs at the least, in any language
 *   shim                  rsync -e 'burrow shim'
 *
 * The blocking pair is the point of the exercise: on this machine the event-loop pipes cost about
 * as much as the shim's whole overhead, and the blocking ones next to nothing (see BENCHMARKS.md);
 * the C pair says what the shim's targets can be at all.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Scope } from '../../test/helpers/index.js';
import { compileExperiment } from '../lib/cc.js';
import { median } from '../lib/stats.js';
import { terminalTable } from '../lib/table.js';
import { takeShimCpu } from '../shim/cpu.js';
import type { BenchWorld } from '../shim/world.js';
import { alternateRsync, runShimExperiment } from './shim-world.js';

/**
 * stdin to stdout through one reused MiB: read, pause, write, resume once written. Records its
 * CPU at exit as `<role> <seconds>` lines in the file named by FLOOR_CPU.
 */
const PIPE = `const net = require('node:net');
const buf = Buffer.allocUnsafe(1 << 20);
const out = new net.Socket({ fd: 1, readable: false, writable: true });
const input = new net.Socket({ fd: 0, readable: true, writable: false, onread: { buffer: buf,
  callback(n) { input.pause(); out.write(buf.subarray(0, n), () => input.resume()); } } });
input.on('end', () => out.end());
process.on('exit', () => { const u = process.cpuUsage();
  require('node:fs').appendFileSync(process.env.FLOOR_CPU, process.env.FLOOR_ROLE + ' ' + (u.user + u.system) / 1e6 + '\\n'); });
`;

/**
 * The same relay with blocking I/O: read up to a MiB, write it all, repeat; no event loop. The
 * bench's descriptors are blocking (bash's pipes, rsync's socket); should one not be, this stops
 * at the first EAGAIN (exit 75) instead of spinning.
 */
const BLOCKING_PIPE = `const fs = require('node:fs');
const buf = Buffer.allocUnsafe(1 << 20);
try {
  for (let n; (n = fs.readSync(0, buf, 0, buf.length, null)) > 0; ) {
    for (let at = 0; at < n; ) at += fs.writeSync(1, buf, at, n - at);
  }
} catch (err) {
  if (err.code !== 'EAGAIN') throw err;
  process.exitCode = 75;
}
const u = process.cpuUsage();
fs.appendFileSync(process.env.FLOOR_CPU, process.env.FLOOR_ROLE + ' ' + (u.user + u.system) / 1e6 + '\\n');
`;

type FloorForm =
  | 'ssh'
  | 'remote pipe'
  | 'two pipes'
  | 'two blocking pipes'
  | 'two C splice pipes'
  | 'shim';

export async function measureFloor(
  scope: Scope,
  bw: BenchWorld,
  opts: { rounds: number; log: (msg: string) => void },
): Promise<string> {
  const { rounds, log } = opts;
  const cpuLog = join(bw.dir, 'floor-cpu');
  const files = {
    event: join(bw.dir, 'floor-pipe.cjs'),
    blocking: join(bw.dir, 'floor-blocking.cjs'),
    splice: join(bw.dir, 'floor-splice'),
  };
  writeFileSync(files.event, PIPE);
  writeFileSync(files.blocking, BLOCKING_PIPE);
  compileExperiment('shim-floor', files.splice, [], 'a C compiler: gcc');
  const pipes = {
    event: `${process.execPath} ${files.event}`,
    blocking: `${process.execPath} ${files.blocking}`,
    splice: files.splice,
  };
  // Process substitution, so the script ends with ssh (or rsync) while the pipe drains on its own.
  const script = (kind: keyof typeof pipes, role: string, command: string) => {
    const path = join(bw.dir, `floor-${kind}-${role}`);
    const run = `exec ${pipes[kind]} 2>/dev/null`;
    writeFileSync(
      path,
      `#!/bin/bash\n${command} "$@" < <(FLOOR_CPU=${cpuLog} FLOOR_ROLE=${role} ${run})\n`,
    );
    chmodSync(path, 0o755);
    return path;
  };
  const twoPipes = (kind: keyof typeof pipes) => ({
    transport: script(kind, 'local', bw.transport.ssh),
    extra: [`--rsync-path=${script(kind, 'remote', 'rsync')}`],
  });
  const eventPipes = twoPipes('event');
  const forms: Record<FloorForm, { transport: string; extra: string[] }> = {
    ssh: { transport: bw.transport.ssh, extra: [] },
    'remote pipe': { transport: bw.transport.ssh, extra: eventPipes.extra },
    'two pipes': eventPipes,
    'two blocking pipes': twoPipes('blocking'),
    'two C splice pipes': twoPipes('splice'),
    shim: { transport: bw.transport.shim, extra: [] },
  };
  const dst = join(bw.dir, 'floor.bin');
  const { times, rows } = await alternateRsync(
    scope,
    bw,
    { forms, rounds, dst, cpuLog, tag: 'floor', log },
    async (form) => ({ text: form === 'shim' ? await shimCpu(bw) : await pipeCpu(cpuLog, form) }),
  );
  const base = median(times.get('ssh')!);
  const summary = [...times].map(([form, t]) => {
    const m = median(t);
    return [
      form,
      `${m.toFixed(2)} s`,
      form === 'ssh' ? '–' : `${((m / base - 1) * 100).toFixed(1)}%`,
    ];
  });
  return [
    `rsync of ${(bw.bytes / 2 ** 20).toFixed(0)} MiB: bare Node pipes where the shim's processes sit`,
    terminalTable({ headers: ['round', 'form', 'time', 'CPU s of the Node processes'], rows }),
    '',
    terminalTable({ headers: ['form', `median of ${rounds}`, 'vs ssh'], rows: summary }),
  ].join('\n');
}

async function shimCpu(bw: BenchWorld): Promise<string> {
  const c = await takeShimCpu(bw.cpuDir);
  const serve = c.serve === null ? '' : `, resumed --serve ${c.serve.toFixed(2)}`;
  return `local ${c.local?.toFixed(2)}, holder ${c.holder?.toFixed(2)}${serve}`;
}

/** The pipes' CPU records; they exit just after rsync, so this waits for them a little. */
async function pipeCpu(file: string, form: FloorForm): Promise<string> {
  const want = form.startsWith('two ') ? 2 : form === 'remote pipe' ? 1 : 0;
  for (let i = 0; i < 50; i++) {
    const lines = existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : [];
    if (lines.length >= want) {
      return want === 0
        ? '–'
        : lines
            .map((l) => l.replace(/ ([\d.]+)$/, (_, s) => ` ${Number(s).toFixed(2)}`))
            .join(', ');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return 'not recorded';
}

runShimExperiment('shim-floor', ({ scope, bw, rounds, log }) =>
  measureFloor(scope, bw, { rounds, log }),
);
