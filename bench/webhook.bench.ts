/**
 * `npm run bench -- webhook`: registrations/s on one relay whose keys are judged by the auth
 * webhook (`--auth-webhook`, answers cached) against the same keys listed in its policy file, in
 * the same run, interleaved round by round. Method: bench/webhook.md.
 */
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { decodeKey, fingerprint } from '../src/core/policy/index.js';
import { generateEd25519 } from '../src/ssh/keys.js';
import { type Proc, type Scope, startProc, tmpDir } from '../test/helpers/index.js';
import { relayCliArgs, startCli } from '../test/helpers/relay.js';
import { cpuSeconds } from './lib/procfs.js';
import { defineBench, definePhase, type FlagSpecs, runBench, status } from './lib/runner.js';
import { f1, n0 } from './relay/results.js';

const FLAGS = {
  devices: { type: 'count', default: 2000, help: 'devices registered per pass' },
  rounds: { type: 'count', default: 3, help: 'policy-file/webhook run pairs; medians reported' },
  concurrency: { type: 'count', default: 64, help: 'load generator connections in flight' },
} as const satisfies FlagSpecs;
type Flags = typeof FLAGS;

const LOADGEN = new URL('./loadgen.js', import.meta.url).pathname;
const LOAD_RELAY_ARGS = [
  '--max-startups',
  '4096:30:4096',
  '--max-startups-per-source',
  '100000',
  '--per-source-penalties',
  'no',
  '--audit-log',
  '/dev/null',
];

type Mode = 'policy-file' | 'webhook';

interface Run {
  mode: Mode;
  round: number;
  /** The first pass: for the webhook, every key asks the hook (nothing cached yet). */
  coldPerSec: number;
  /** The second pass, the measured one: the webhook's answers are cached. */
  perSec: number;
  /** The relay process's CPU time per 1000 registrations in the second pass. */
  cpuMsPer1k: number;
  failed: number;
}

interface WebhookResult {
  devices: number;
  concurrency: number;
  runs: Run[];
  policyPerSec: number;
  webhookPerSec: number;
  webhookColdPerSec: number;
  ratio: number;
  policyCpuMsPer1k: number;
  webhookCpuMsPer1k: number;
  hookRequests: number;
}

interface Key {
  name: string;
  privateKey: string;
  publicLine: string;
  fp: string;
}

interface LoadgenDone {
  registered: number;
  failed: number;
  elapsedMs: number;
}

/** The hook: allows each known fingerprint to register its own name, for an hour. */
async function startHook(
  scope: Scope,
  keys: readonly Key[],
): Promise<{ url: string; asked: () => number }> {
  const byFp = new Map(keys.map((k) => [k.fp, k.name]));
  let asked = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      asked += 1;
      const { fingerprint } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        fingerprint: string;
      };
      const name = byFp.get(fingerprint);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          name ? { allow: true, permitlisten: [`${name}:22`], ttl_s: 3600 } : { allow: false },
        ),
      );
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  scope.defer(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
    'bench auth webhook',
  );
  const a = server.address();
  return {
    url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/hook`,
    asked: () => asked,
  };
}

async function startRelay(
  scope: Scope,
  dir: string,
  extra: string[],
): Promise<{ proc: Proc; addr: string }> {
  const proc = startCli(scope, [...relayCliArgs(dir), ...LOAD_RELAY_ARGS, ...extra], {
    name: 'relay',
    maxLines: 500,
  });
  const m = await proc.waitForLine(/relay listening on (127\.0\.0\.1:\d+)/, { stream: 'stderr' });
  return { proc, addr: m[1]! };
}

/** One load generator pass: every key connects and registers; then all disconnect. */
async function pass(scope: Scope, addr: string, keysPath: string, n: number, concurrency: number) {
  const loadgen = startProc(
    scope,
    process.execPath,
    [LOADGEN, '--relay', addr, '--keys', keysPath, '--concurrency', String(concurrency)],
    { name: 'loadgen', maxLines: 200, stopGraceMs: 10_000 },
  );
  const line = await loadgen.waitForLine(/^\{"type":"done".*\}$/, {
    stream: 'stdout',
    timeoutMs: 60_000 + n * 20,
  });
  await loadgen.stop();
  const done = JSON.parse(line[0]) as LoadgenDone;
  return { ...done, perSec: done.registered / (done.elapsedMs / 1000) };
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)]!;

const registrations = definePhase<Flags, WebhookResult>({
  name: 'registrations',
  title: 'Registrations/s: keys judged by the auth webhook (cached) vs the policy file',
  async measure(scope, { flags, log }) {
    const { devices, rounds, concurrency } = flags;
    log(`generating ${devices} ed25519 keys`);
    const keys: Key[] = [];
    for (let i = 0; i < devices; i++) {
      const k = generateEd25519(`n${i}`);
      const [type, b64] = k.publicLine.split(' ') as [string, string];
      const blob = decodeKey(type as 'ssh-ed25519', b64);
      if (!blob.ok) throw new Error(blob.message);
      keys.push({
        name: `n${i}`,
        privateKey: k.privateKey,
        publicLine: k.publicLine,
        fp: fingerprint(blob.blob),
      });
    }
    const hook = await startHook(scope, keys);
    const runs: Run[] = [];
    for (let round = 1; round <= rounds; round++) {
      const order: Mode[] =
        round % 2 === 1 ? ['policy-file', 'webhook'] : ['webhook', 'policy-file'];
      for (const mode of order) {
        const dir = await tmpDir(scope);
        const keysPath = join(dir, 'devices.jsonl');
        writeFileSync(
          keysPath,
          `${keys.map((k) => JSON.stringify({ name: k.name, key: k.privateKey })).join('\n')}\n`,
          { mode: 0o600 },
        );
        const policy =
          mode === 'policy-file'
            ? keys.map((k) => `permitlisten="${k.name}:22" ${k.publicLine}`)
            : [];
        writeFileSync(join(dir, 'authorized_keys'), `${policy.join('\n')}\n`);
        const relay = await startRelay(
          scope,
          dir,
          mode === 'webhook' ? ['--auth-webhook', hook.url] : [],
        );
        const cold = await pass(scope, relay.addr, keysPath, devices, concurrency);
        const cpu0 = cpuSeconds(relay.proc.pid) ?? Number.NaN;
        const warm = await pass(scope, relay.addr, keysPath, devices, concurrency);
        const cpu = (cpuSeconds(relay.proc.pid) ?? Number.NaN) - cpu0;
        runs.push({
          mode,
          round,
          coldPerSec: cold.perSec,
          perSec: warm.perSec,
          cpuMsPer1k: (cpu * 1e6) / Math.max(warm.registered, 1),
          failed: cold.failed + warm.failed,
        });
        log(
          `round ${round}/${rounds} ${mode}: first pass ${cold.perSec.toFixed(0)}/s, second ${warm.perSec.toFixed(0)}/s, ${cold.failed + warm.failed} failed`,
        );
        await relay.proc.stop();
      }
    }
    const of = (m: Mode, f: (r: Run) => number) => median(runs.filter((r) => r.mode === m).map(f));
    const policyPerSec = of('policy-file', (r) => r.perSec);
    const webhookPerSec = of('webhook', (r) => r.perSec);
    const result: WebhookResult = {
      devices,
      concurrency,
      runs,
      policyPerSec,
      webhookPerSec,
      webhookColdPerSec: of('webhook', (r) => r.coldPerSec),
      ratio: webhookPerSec / policyPerSec,
      policyCpuMsPer1k: of('policy-file', (r) => r.cpuMsPer1k),
      webhookCpuMsPer1k: of('webhook', (r) => r.cpuMsPer1k),
      hookRequests: hook.asked(),
    };
    const failed = runs.reduce((n, r) => n + r.failed, 0);
    // The relay's CPU per registration decides: the wall-clock rate on a shared machine moves
    // with whatever else runs (see bench/webhook.md); at equal CPU, rate = 1 / CPU per registration.
    const cpuRatio = result.policyCpuMsPer1k / result.webhookCpuMsPer1k;
    return {
      result,
      targets: [
        {
          id: 'webhook-cached-vs-policy',
          target:
            'registrations/s with --auth-webhook (cached) ≥ 90% of the policy file’s, judged by the relay’s CPU per registration',
          measured:
            `${(cpuRatio * 100).toFixed(1)}% (${n0(result.webhookCpuMsPer1k)} vs ${n0(result.policyCpuMsPer1k)} ms CPU per 1000); ` +
            `wall clock ${(result.ratio * 100).toFixed(0)}% (${n0(webhookPerSec)}/s vs ${n0(policyPerSec)}/s)`,
          status: status(cpuRatio >= 0.9 && failed === 0),
          ...(failed ? { note: `${failed} registrations failed` } : {}),
        },
      ],
    };
  },
  tables(r) {
    return [
      {
        title: `${n0(r.devices)} devices per pass, ${r.concurrency} in flight; medians of ${r.runs.length / 2} rounds`,
        headers: [
          'keys judged by',
          'first pass /s',
          'second pass /s',
          'vs policy file',
          'relay CPU per 1000, second pass',
        ],
        rows: [
          [
            'policy file',
            n0(median(r.runs.filter((x) => x.mode === 'policy-file').map((x) => x.coldPerSec))),
            n0(r.policyPerSec),
            '100%',
            `${n0(r.policyCpuMsPer1k)} ms`,
          ],
          [
            'auth webhook',
            `${n0(r.webhookColdPerSec)} (asks the hook)`,
            `${n0(r.webhookPerSec)} (cached)`,
            `${f1(r.ratio * 100)}%`,
            `${n0(r.webhookCpuMsPer1k)} ms`,
          ],
        ],
      },
      {
        title: 'Every run',
        headers: [
          'round',
          'keys judged by',
          'first pass /s',
          'second pass /s',
          'CPU per 1000',
          'failed',
        ],
        rows: r.runs.map((x) => [
          String(x.round),
          x.mode,
          n0(x.coldPerSec),
          n0(x.perSec),
          `${n0(x.cpuMsPer1k)} ms`,
          String(x.failed),
        ]),
      },
    ];
  },
});

runBench(
  defineBench({
    name: 'webhook',
    title: 'webhook: the relay with an external auth webhook, against its policy file',
    after: 'cluster',
    flags: FLAGS,
    phases: [registrations],
  }),
);
