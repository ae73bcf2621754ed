/**
 * Experiment, not a measured target: `npm run bench -- experiments/relay-ab [--a CLI] [--a-flags 'NODE FLAGS'] [--exec FILE]... [--size 512M]
 * [--rounds 5] [--verify] [--profile DIR]`.
 * What it showed: neither a reused output buffer for channel data, nor slab-allocated packets,
 * nor a larger young generation lowered the relay's CPU per GiB beyond the noise of a shared
 * machine (bench/relay.md, "Tried on the relay's data path and not kept").
 *
 * Measures the relay's CPU-seconds per GiB through `ssh -J`, for this tree's build and,
 * with `--a`, for another build (another checkout's `dist/src/cli/main.js` with its own
 * node_modules, e.g. ssh2 without a change under test), in the same run, transfers alternating,
 * so one A/B of a data-path change is measured against the same background load. Each
 * `--exec FILE` (repeatable) adds a relay run from a single executable (`dist/bin/burrow`, or one
 * built with `scripts/build-binary.mjs --without-sshcrypto`), measured the same way.
 *
 * One bench world (bench/relay/world.ts: device sshd, the operator's ssh_config) with this tree's
 * relay, plus the other build's relay where the same device registers `dev:22` too. Each round
 * sends SIZE bytes through each relay (`head -c SIZE /dev/zero | ssh -J relay dev 'wc -c'`, order
 * rotated) and reads the relay's utime+stime from /proc before and after. `--verify` sends
 * pseudo-random bytes instead and compares the sha256 the device computed with the sender's
 * (computed before the transfer, from the same deterministic source).
 * `--profile DIR` runs this tree's relay under `node --cpu-prof` (the profile is written at exit).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

import { runCommand, Scope, waitFor } from '../../test/helpers/index.js';
import { parseCount, parseSize } from '../lib/flags.js';
import { cpuSeconds } from '../lib/procfs.js';
import { progressLogger, runBenchMain } from '../lib/report.js';
import { median, rotate } from '../lib/stats.js';
import { terminalTable } from '../lib/table.js';
import {
  countAudit,
  type RelayProcessOptions,
  shellQuote,
  startRelayProcess,
  startWorld,
} from '../relay/world.js';

const NAME = 'relay-ab';

interface Arm {
  label: string;
  host: string;
  pid: number;
  cpuPerGiB: number[];
  mibPerSec: number[];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    options: {
      a: { type: 'string' },
      exec: { type: 'string', multiple: true },
      'a-flags': { type: 'string', default: '' },
      size: { type: 'string', default: '512M' },
      rounds: { type: 'string', default: '5' },
      verify: { type: 'boolean', default: false },
      profile: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      `usage: npm run bench -- experiments/${NAME} [--a CLI] [--a-flags 'NODE FLAGS'] [--exec FILE]... [--size 512M] [--rounds 5] [--verify] [--profile DIR]\n`,
    );
    return;
  }
  const bytes = parseSize(values.size);
  const rounds = parseCount('rounds', values.rounds);
  const log = progressLogger(NAME);
  const scope = new Scope();
  try {
    const world = await startWorld(scope, values.profile ? { profileDir: values.profile } : {});
    const arms: Arm[] = [
      { label: 'B (this tree)', host: 'dev', pid: world.relay.pid, cpuPerGiB: [], mibPerSec: [] },
    ];
    /** Starts another relay in its own directory, registers the device on it, adds its arm. */
    const addArm = async (label: string, id: string, relayOpts: Partial<RelayProcessOptions>) => {
      const dir = join(world.dir, `relay-${id}`);
      await mkdir(dir);
      const relay = await startRelayProcess(scope, {
        dir,
        ...relayOpts,
        policy: [
          `permitlisten="dev:22" ${world.deviceKey.publicKey} device`,
          `permitopen="dev:22" ${world.operatorKey.publicKey} operator`,
        ],
      });
      const alias = `relay-${id}`;
      const hostKey = relay.hostKeyPub;
      world.deviceSsh.addHost({ alias, port: relay.port, user: 'device', hostKey });
      world.op.addHost({ alias, port: relay.port, user: 'operator', hostKey });
      world.op.addHost({
        alias: `dev-${id}`,
        hostName: 'dev',
        hostKeyAlias: 'dev',
        user: 'root',
        proxyJump: alias,
      });
      world.tunnels.push(
        world.deviceSsh.spawn(['-N', '-R', `dev:22:127.0.0.1:${world.device.port}`, alias], {
          name: `device -R ${alias}`,
        }),
      );
      await waitFor(async () => (await countAudit(relay.auditPath, 'name.registered')) >= 1, {
        what: `the device to register dev:22 on ${alias}`,
        timeoutMs: 15_000,
      });
      arms.push({ label, host: `dev-${id}`, pid: relay.pid, cpuPerGiB: [], mibPerSec: [] });
    };
    if (values.a) {
      await addArm(`A (${values.a} ${values['a-flags']})`, 'a', {
        cliPath: values.a,
        nodeFlags: values['a-flags'].split(' ').filter(Boolean),
      });
    }
    for (const [i, executable] of (values.exec ?? []).entries()) {
      await addArm(`executable ${executable}`, `x${i}`, { executable });
    }
    const ssh = (host: string, remote: string) =>
      `ssh -F ${world.op.configPath} ${host} ${shellQuote(remote)}`;
    const timeoutMs = Math.max(120_000, (bytes / (2 * 2 ** 20)) * 1000);
    for (const arm of arms) {
      await runCommand(scope, 'bash', ['-c', `head -c 16M /dev/zero | ${ssh(arm.host, 'wc -c')}`], {
        timeoutMs: 60_000,
      });
    }
    for (let round = 0; round < rounds; round++) {
      for (const arm of rotate(arms, round)) {
        // --verify: a keystream of AES-128-CTR over zeros, the same bytes for the same round,
        // so the sender's sha256 is computed beforehand and the transfer is timed alone.
        const source = values.verify
          ? `openssl enc -aes-128-ctr -nosalt -pass pass:r${round} -in <(head -c ${bytes} /dev/zero) 2>/dev/null`
          : `head -c ${bytes} /dev/zero`;
        const sent = values.verify
          ? (
              await runCommand(scope, 'bash', ['-c', `set -o pipefail; ${source} | sha256sum`], {
                timeoutMs,
              })
            ).stdout.split(' ')[0]
          : undefined;
        const remote = values.verify ? 'sha256sum' : 'wc -c';
        const script = `set -o pipefail; ${source} | ${ssh(arm.host, remote)}`;
        const cpu0 = cpuSeconds(arm.pid) ?? Number.NaN;
        const t0 = performance.now();
        const r = await runCommand(scope, 'bash', ['-c', script], { timeoutMs });
        const seconds = (performance.now() - t0) / 1000;
        await sleep(50);
        const cpu = (cpuSeconds(arm.pid) ?? Number.NaN) - cpu0;
        if (r.code !== 0)
          throw new Error(`${arm.label}: transfer failed (exit ${r.code}):\n${r.stderr}`);
        const lines = r.stdout.trim().split('\n');
        if (values.verify) {
          const got = lines[0]?.split(' ')[0];
          if (!got || got !== sent)
            throw new Error(`${arm.label}: sha256 mismatch: ${got} vs ${sent}`);
          log(`round ${round + 1} ${arm.label}: sha256 ${got} matches`);
        } else if (lines[0] !== String(bytes)) {
          throw new Error(`${arm.label}: device counted ${lines[0]} of ${bytes} bytes`);
        }
        arm.cpuPerGiB.push(cpu / (bytes / 2 ** 30));
        arm.mibPerSec.push(bytes / 2 ** 20 / seconds);
        log(
          `round ${round + 1}/${rounds} ${arm.label}: ${(bytes / 2 ** 20 / seconds).toFixed(0)} MiB/s, ` +
            `relay CPU ${(cpu / (bytes / 2 ** 30)).toFixed(3)} s/GiB`,
        );
      }
    }
    process.stdout.write(
      `\n${terminalTable({
        headers: ['relay', 'median CPU s/GiB', 'each round', 'median MiB/s'],
        rows: arms.map((a) => [
          a.label,
          median(a.cpuPerGiB).toFixed(3),
          a.cpuPerGiB.map((c) => c.toFixed(2)).join(' '),
          median(a.mibPerSec).toFixed(0),
        ]),
      })}\n`,
    );
    if (values.profile) {
      await Promise.all(world.tunnels.map((t) => t.stop()));
      await world.relay.proc.stop();
    }
  } finally {
    await scope.close();
  }
}

runBenchMain(NAME, main);
