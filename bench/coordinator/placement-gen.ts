/**
 * One placement generator process (bench/coordinator/placement.ts starts several, so the
 * generator's own event loop is not what is measured). A closed loop over C keep-alive
 * connections (`node:http` Agent): each sends `GET /v1/placement?name=NAME` for a name drawn at
 * random from n0…n(N-1) as soon as the previous answer is read. Timing is on the wall clock the
 * parent gives, so every generator warms up and measures over the same window.
 *
 * Usage: node placement-gen.js --url URL --names N --connections C --start-at MS_EPOCH
 *                              --warmup-ms W --measure-ms M --out FILE
 * Output: FILE holds `{"latenciesMs":[…],"errors":n,"cpuMs":t,"windowMs":w}` (latencies of the
 * answers completed inside the measured window, errors in it, this process's CPU over it);
 * then `done` on stdout.
 */
import { writeFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

function arg(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (v === undefined) throw new Error(`--${name} is required`);
  return v;
}

const url = arg('url');
const names = Number(arg('names'));
const connections = Number(arg('connections'));
const startAt = Number(arg('start-at'));
const warmupMs = Number(arg('warmup-ms'));
const measureMs = Number(arg('measure-ms'));
const out = arg('out');

const agent = new Agent({ keepAlive: true, maxSockets: connections });

/** Resolves with the HTTP status once the whole body is read; rejects on a socket error. */
function request(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = get(`${url}${path}`, { agent }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

const latencies: number[] = [];
let errors = 0;
let stop = false;
const measureFrom = startAt + warmupMs;
const measureTo = measureFrom + measureMs;

async function loop(): Promise<void> {
  while (!stop) {
    const t0 = performance.now();
    const sent = Date.now();
    let ok = false;
    try {
      ok = (await request(`/v1/placement?name=n${Math.floor(Math.random() * names)}`)) === 200;
    } catch {
      ok = false;
    }
    const ms = performance.now() - t0;
    const end = Date.now();
    // Counted when it both started and ended inside the window.
    if (sent < measureFrom || end > measureTo) continue;
    if (ok) latencies.push(ms);
    else errors++;
  }
}

await sleep(Math.max(0, startAt - Date.now()));
const loops = Array.from({ length: connections }, loop);
await sleep(Math.max(0, measureFrom - Date.now()));
const cpu0 = process.cpuUsage();
await sleep(Math.max(0, measureTo - Date.now()));
const cpu = process.cpuUsage(cpu0);
stop = true;
await Promise.all(loops);
agent.destroy();
writeFileSync(
  out,
  JSON.stringify({
    latenciesMs: latencies.map((x) => Math.round(x * 1000) / 1000),
    errors,
    cpuMs: (cpu.user + cpu.system) / 1000,
    windowMs: measureMs,
  }),
);
process.stdout.write('done\n');
