/**
 * Idle-device load generator: opens N SSH connections to a relay, each authenticating with its
 * own key and registering `NAME:22` with a tcpip-forward request, then stays idle (answering the
 * relay's keepalives) until told to stop. Runs as its own process so its memory and CPU are not
 * counted against the relay.
 *
 * Input: a JSON-lines file of `{ "name": "...", "key": "<OpenSSH private key>" }`.
 * Output on stdout, one JSON object per line:
 *   {"type":"progress","registered":n,"failed":f,"elapsedMs":t}   every second
 *   {"type":"done","registered":n,"failed":f,"elapsedMs":t,"ratePerSec":r}  when all have tried
 * Then it waits for SIGTERM (or stdin closing) and exits.
 *
 * Usage: node loadgen.js --relay HOST:PORT[,HOST:PORT…] --keys FILE [--concurrency 64]
 *                        [--source ADDR[,ADDR…]]
 *
 * One (source address, destination address) pair holds one ephemeral port range (~28k on a
 * default Linux) of connections. Two ways past that, both spreading connections round-robin:
 * several relay addresses (e.g. 127.0.0.1:P,127.0.0.2:P for a relay listening on both, or on
 * 0.0.0.0), or several source addresses (`--source 127.0.0.1,127.0.0.2`, bound with
 * localAddress) towards a relay on one loopback address. Binding a source address makes each
 * connect() search that address's port space, which is slower at tens of thousands of
 * connections, but keeps the relay listening on loopback only.
 */
import { readFileSync } from 'node:fs';
import { toSsh2Key } from '../src/ssh/keys.js';
import ssh2 from '../src/ssh/ssh2.js';

interface Device {
  readonly name: string;
  readonly key: string;
}

function arg(name: string, def?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : def;
  if (v === undefined) throw new Error(`--${name} is required`);
  return v;
}

const targets = arg('relay')
  .split(',')
  .map((hp) => {
    const [host, port] = hp.split(':') as [string, string];
    return { host, port: Number(port) };
  });
const devices: Device[] = readFileSync(arg('keys'), 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l) as Device);
const concurrency = Number(arg('concurrency', '64'));
const sources = arg('source', '')
  .split(',')
  .filter((a) => a.length > 0);

const clients: ssh2.Client[] = [];
let registered = 0;
let failed = 0;
let next = 0;
const started = Date.now();

function emit(obj: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function connectOne(i: number): Promise<void> {
  const dev = devices[i]!;
  return new Promise((resolve) => {
    const c = new ssh2.Client();
    let settled = false;
    const settle = (ok: boolean) => {
      if (settled) return;
      settled = true;
      if (ok) registered += 1;
      else failed += 1;
      resolve();
    };
    c.on('ready', () => {
      c.forwardIn(dev.name, 22, (err) => {
        if (err) {
          c.end();
          return settle(false);
        }
        clients.push(c);
        settle(true);
      });
    });
    c.on('error', () => settle(false));
    c.on('close', () => settle(false));
    const target = targets[i % targets.length]!;
    c.connect({
      host: target.host,
      port: target.port,
      username: dev.name,
      // A pre-parsed key with KeyObjects signs ~10x faster than ssh2's PEM path, so the load
      // generator does not become the bottleneck it is measuring.
      authHandler: [{ type: 'publickey', username: dev.name, key: toSsh2Key(dev.key) }] as never,
      readyTimeout: 60_000,
      ...(sources.length > 0 ? { localAddress: sources[i % sources.length] } : {}),
      // Accept whatever host key the bench relay has; this process measures load, not trust.
      hostVerifier: () => true,
    });
  });
}

async function worker(): Promise<void> {
  while (next < devices.length) {
    const i = next++;
    await connectOne(i);
  }
}

const progress = setInterval(() => {
  emit({ type: 'progress', registered, failed, elapsedMs: Date.now() - started });
}, 1000);

await Promise.all(Array.from({ length: Math.min(concurrency, devices.length) }, worker));
clearInterval(progress);
const elapsedMs = Date.now() - started;
emit({
  type: 'done',
  registered,
  failed,
  elapsedMs,
  ratePerSec: Math.round((registered / elapsedMs) * 1000),
});

const stop = () => {
  for (const c of clients) c.destroy();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
