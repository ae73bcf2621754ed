/**
 * Experiment, not a measured target: `npm run bench -- experiments/shim-native [--size 1G] [--rounds 3]`.
 * What it showed: moving the bytes in C saves a third of the shim's CPU (1.96 CPU-s/GiB against 2.98 to 3.20) and splice/tee about 60% (1.07 to 1.30), far from the 0.3 target: the copies, and on the local side rsync's socket (BENCHMARKS.md, "What was tried for the shim's data path and did not help").
 * What it measures: the shim's byte path moved below JavaScript (native/pump.h, built by
 * `node scripts/build-native.mjs --strict`), in the shim-floor world, before it carries the
 * product: a prototype in each of the shim's two places that frames, keeps a replay ring and
 * acknowledges exactly as the shim does (frames.ts on the wire), with one native thread per
 * direction and JavaScript touched only by acks, against plain ssh and `burrow shim`,
 * alternating. No handshake, no resume: that is the product's job.
 *
 *   ssh            rsync -e ssh                                        (the baseline)
 *   native copy    rsync -e <prototype local side> --rsync-path=<prototype holder around rsync>:
 *                  read(2) into a ring, writev(2) of [header, payload] per read
 *   native splice  the same with splice(2)/tee(2): no copy of a payload in either process, the
 *                  replay copy a tee into a pipe (so at most fs.pipe-max-size unacknowledged)
 *   shim           rsync -e 'burrow shim'
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NATIVE_PUMP_PATH as ADDON } from '../../src/shim/native-pump.js';
import type { Scope } from '../../test/helpers/index.js';
import { median } from '../lib/stats.js';
import { terminalTable } from '../lib/table.js';
import { takeShimCpu } from '../shim/cpu.js';
import { sha256 } from '../shim/source.js';
import type { BenchWorld } from '../shim/world.js';
import { alternateRsync, type RsyncForm, runShimExperiment } from './shim-world.js';

/**
 * Both places in one script: `local` runs the ssh it is given (argv) with its stdin and stdout
 * on native pipes, the stream out of our stdin and the stream into our stdout; `remote` runs
 * rsync (argv) the other way round. Acks arrive as frames in JavaScript and are applied with
 * outAck. Records its CPU at exit as `<role> <seconds>` in the file named by FLOOR_CPU.
 */
const PROTOTYPE = `const { spawn } = require('node:child_process');
const fs = require('node:fs');
const n = require(${JSON.stringify(ADDON)});
process.on('exit', () => n.quiesce());
const role = process.env.FLOOR_ROLE;
const SPLICE = process.env.NATIVE_SPLICE === '1';
// splice mode keeps its replay copy in a pipe: at most fs.pipe-max-size (1 MiB by default).
const CAP = SPLICE ? 1024 * 1024 : 16 * 1024 * 1024;
const [cmd, ...args] = process.argv.slice(2);
const toChild = n.pipe(), fromChild = n.pipe();
const child = spawn(cmd, args, { stdio: [toChild[0], fromChild[1], 'inherit'] });
fs.closeSync(toChild[0]); fs.closeSync(fromChild[1]);
// local: our stdin (stream 0) -> ssh; ssh -> our stdout (stream 1). remote: the other way round.
const wire = n.wire(role === 'local' ? toChild[1] : 1);
const outStream = role === 'local' ? 0 : 1, inStream = 1 - outStream;
let eofAt = -1, acked = 0, childDone = false;
const out = n.outbound(role === 'local' ? 0 : fromChild[0], outStream, CAP, (kind, a) => {
  if (kind === 'end') { eofAt = a; maybeExit(); }
}, SPLICE);
const inb = n.inbound(CAP + 2 * 1024 * 1024, Math.min(1024 * 1024, CAP / 4), 20, (kind, a, b, body) => {
  if (kind === 'frame' && body[0] === 5) {
    acked = body.readUInt32BE(2) * 2 ** 32 + body.readUInt32BE(6);
    n.outAck(out, acked); maybeExit();
  } else if (kind === 'garbled') { console.error('prototype: garbled: ' + body); process.exit(3); }
}, SPLICE);
n.inSink(inb, inStream, role === 'local' ? 1 : toChild[1], false);
n.inAttach(inb, role === 'local' ? fromChild[0] : 0, wire, true);
n.outAttach(out, wire, 0);
let status = 0;
child.on('exit', (code) => { status = code ?? 1; childDone = true; maybeExit(); });
function maybeExit() {
  // local: when ssh is done. remote: when rsync is done and its output is acknowledged.
  if (!childDone || (role === 'remote' && acked !== eofAt)) return;
  const u = process.cpuUsage();
  fs.appendFileSync(process.env.FLOOR_CPU, role + ' ' + (u.user + u.system) / 1e6 + '\\n');
  process.exit(status);
}
`;

type Form = 'ssh' | 'native copy' | 'native splice' | 'shim';

export async function measureNative(
  scope: Scope,
  bw: BenchWorld,
  opts: { rounds: number; log: (msg: string) => void },
): Promise<string> {
  const { rounds, log } = opts;
  if (!existsSync(ADDON))
    throw new Error(`${ADDON} is missing: run node scripts/build-native.mjs --strict`);
  const cpuLog = join(bw.dir, 'native-cpu');
  const proto = join(bw.dir, 'native-prototype.cjs');
  writeFileSync(proto, PROTOTYPE);
  const script = (role: string, command: string, splice: boolean) => {
    const path = join(bw.dir, `native-${role}${splice ? '-splice' : ''}`);
    const env = `FLOOR_CPU=${cpuLog} FLOOR_ROLE=${role} NATIVE_SPLICE=${splice ? 1 : 0}`;
    writeFileSync(path, `#!/bin/bash\n${env} exec ${process.execPath} ${proto} ${command} "$@"\n`);
    chmodSync(path, 0o755);
    return path;
  };
  const forms: Record<Form, RsyncForm> = {
    ssh: { transport: bw.transport.ssh, extra: [] },
    'native copy': {
      transport: script('local', bw.transport.ssh, false),
      extra: [`--rsync-path=${script('remote', 'rsync', false)}`],
    },
    'native splice': {
      transport: script('local', bw.transport.ssh, true),
      extra: [`--rsync-path=${script('remote', 'rsync', true)}`],
    },
    shim: { transport: bw.transport.shim, extra: [] },
  };
  const dst = join(bw.dir, 'native.bin');
  const { times, cpus, rows } = await alternateRsync(
    scope,
    bw,
    { forms, rounds, dst, cpuLog, tag: 'native', log },
    async (form) => {
      if ((await sha256(dst)) !== bw.srcSha256) {
        throw new Error(`${form}: the copy differs from the source`);
      }
      return form === 'shim' ? shimCpu(bw) : protoCpu(cpuLog, form);
    },
  );
  const base = median(times.get('ssh')!);
  const gib = bw.bytes / 2 ** 30;
  const summary = [...times].map(([form, t]) => {
    const m = median(t);
    const c = cpus
      .get(form)
      ?.map((x) => x.total)
      .filter((x): x is number => x !== null);
    return [
      form,
      `${m.toFixed(2)} s`,
      form === 'ssh' ? '–' : `${((m / base - 1) * 100).toFixed(1)}%`,
      c?.length ? (median(c) / gib).toFixed(2) : '–',
    ];
  });
  return [
    `rsync of ${(bw.bytes / 2 ** 20).toFixed(0)} MiB: the native byte path prototype where the shim's processes sit`,
    terminalTable({ headers: ['round', 'form', 'time', 'CPU s of the Node processes'], rows }),
    '',
    terminalTable({
      headers: ['form', `median of ${rounds}`, 'vs ssh', 'CPU s/GiB (both processes)'],
      rows: summary,
    }),
  ].join('\n');
}

async function shimCpu(bw: BenchWorld): Promise<{ text: string; total: number | null }> {
  const c = await takeShimCpu(bw.cpuDir);
  const total = c.local !== null && c.holder !== null ? c.local + c.holder : null;
  return { text: `local ${c.local?.toFixed(2)}, holder ${c.holder?.toFixed(2)}`, total };
}

/** The prototype's CPU records; they exit just after rsync, so this waits for them a little. */
async function protoCpu(file: string, form: Form): Promise<{ text: string; total: number | null }> {
  if (form === 'ssh') return { text: '–', total: null };
  for (let i = 0; i < 50; i++) {
    const lines = existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : [];
    if (lines.length >= 2) {
      const parts = lines.map((l) => l.split(' ') as [string, string]);
      const total = parts.reduce((s, [, v]) => s + Number(v), 0);
      return { text: parts.map(([r, v]) => `${r} ${Number(v).toFixed(2)}`).join(', '), total };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { text: 'not recorded', total: null };
}

runShimExperiment('shim-native', ({ scope, bw, rounds, log }) =>
  measureNative(scope, bw, { rounds, log }),
);
