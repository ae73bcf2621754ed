/**
 * One placement generator process (bench/coordinator/placement.ts starts them). A closed loop over
 * C keep-alive HTTP/1.1 connections of node:net (http1.ts reads the answers): each connection
 * sends `GET /v1/placement?name=NAME` for a name drawn at random from n0…n(N-1) as soon as the
 * previous answer is read. Latency is per request, from the write of the request to the read of
 * the answer's last byte. Every answer is checked: status 200, a JSON body, and a first relay
 * whose address is the one `--holders` gives for the name (the names do not move during the
 * run). Timing is on the wall clock the parent gives, so every generator warms up and measures
 * over the same window.
 *
 * Usage: node placement-gen.js --url URL --holders FILE --connections C --start-at MS_EPOCH
 *                              --warmup-ms W --measure-ms M --out FILE
 * FILE of --holders: a JSON array, the address (`host:port`) of the relay holding name nI at I.
 * Output: FILE holds `{"latenciesMs":[…],"errors":n,"errorKinds":{…},"cpuMs":t,"windowMs":w}`
 * (latencies of the answers completed inside the measured window, errors in it by kind, this
 * process's CPU over it); then `done` on stdout.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Response, ResponseReader } from './http1.js';

function arg(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (v === undefined) throw new Error(`--${name} is required`);
  return v;
}

const url = new URL(arg('url'));
const holders = JSON.parse(readFileSync(arg('holders'), 'utf8')) as string[];
const connections = Number(arg('connections'));
const startAt = Number(arg('start-at'));
const warmupMs = Number(arg('warmup-ms'));
const measureMs = Number(arg('measure-ms'));
const out = arg('out');

type ErrorKind = 'status' | 'body' | 'wrong-first' | 'connection';
const latencies: number[] = [];
const errorKinds: Record<ErrorKind, number> = {
  status: 0,
  body: 0,
  'wrong-first': 0,
  connection: 0,
};
let stop = false;
// performance.now() on the wall clock: the window is given in ms since the epoch.
const epochOffset = Date.now() - performance.now();
const measureFrom = startAt + warmupMs - epochOffset;
const measureTo = measureFrom + measureMs;
const host = `Host: ${url.host}\r\n\r\n`;

/** What is wrong with an answer to a question about name nI, or undefined when it is right. */
function check(res: Response, i: number): ErrorKind | undefined {
  if (res.status !== 200) return 'status';
  let first: unknown;
  try {
    first = (JSON.parse(res.body.toString('utf8')) as { relays: { address: unknown }[] }).relays[0]
      ?.address;
  } catch {
    return 'body';
  }
  return first === holders[i] ? undefined : 'wrong-first';
}

/** Counts one outcome when its question was sent and answered inside the measured window. */
function count(sentAt: number, endAt: number, ms: number, error: ErrorKind | undefined): void {
  if (sentAt < measureFrom || endAt > measureTo) return;
  if (error) errorKinds[error]++;
  else latencies.push(ms);
}

/** One connection's closed loop; resolves once it is stopped and closed. */
function loop(): Promise<void> {
  return new Promise((resolve) => {
    let socket: Socket;
    let reader: ResponseReader;
    let sentAt = 0;
    let name = 0;
    /** Why the connection is being dropped, counted when it closes. */
    let why: ErrorKind = 'connection';
    const ask = () => {
      name = Math.floor(Math.random() * holders.length);
      sentAt = performance.now();
      socket.write(`GET /v1/placement?name=n${name} HTTP/1.1\r\n${host}`);
    };
    const open = () => {
      reader = new ResponseReader();
      socket = connect({ host: url.hostname, port: Number(url.port), noDelay: true });
      socket.on('connect', ask);
      socket.on('data', (chunk: Buffer) => {
        let answers: Response[];
        try {
          answers = reader.feed(chunk);
        } catch {
          why = 'body';
          socket.destroy(); // 'close' counts it and opens another connection
          return;
        }
        for (const res of answers) {
          const end = performance.now();
          count(sentAt, end, end - sentAt, check(res, name));
          if (stop) socket.end();
          else ask();
        }
      });
      socket.on('error', () => undefined); // the 'close' that follows counts it
      socket.on('close', () => {
        if (stop) return resolve();
        const end = performance.now();
        count(sentAt, end, end - sentAt, why);
        why = 'connection';
        setTimeout(open, 10);
      });
    };
    open();
  });
}

await sleep(Math.max(0, startAt - Date.now()));
const loops = Array.from({ length: connections }, loop);
await sleep(Math.max(0, measureFrom - performance.now()));
const cpu0 = process.cpuUsage();
await sleep(Math.max(0, measureTo - performance.now()));
const cpu = process.cpuUsage(cpu0);
stop = true;
// Each connection ends after its answer in flight; one that never comes does not hold the result.
await Promise.race([Promise.all(loops), sleep(5000)]);
writeFileSync(
  out,
  JSON.stringify({
    latenciesMs: latencies.map((x) => Math.round(x * 1000) / 1000),
    errors: Object.values(errorKinds).reduce((a, b) => a + b, 0),
    errorKinds,
    cpuMs: (cpu.user + cpu.system) / 1000,
    windowMs: measureMs,
  }),
);
process.stdout.write('done\n', () => process.exit(0));
