/**
 * The wire fuzzer: a live `burrow relay` process fed mutated SSH before authentication (raw
 * version lines, KEXINIT and other packets, random bytes, bad lengths) and hostile requests after
 * it (through ssh2's client: global requests with arbitrary payload bytes, channel opens and
 * requests with hostile values; the transport is encrypted by then, see helpers/wire-fuzz.ts).
 * Asserted: every connection is closed or every request answered within a bound (no hang), the
 * relay process never dies, and a real OpenSSH operator reaches a device through it with `ssh -J`
 * all along and afterwards.
 *
 * Seeded: WIRE_FUZZ_SEED replays a run; WIRE_FUZZ_MS runs batches until that many ms have passed
 * (`npm run fuzz` sets both); without them a fixed seed and a fixed number of cases.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type ssh2 from 'ssh2';
import sshLib from '../src/ssh/ssh2.js';
import {
  generateKey,
  type Proc,
  publicKeyOf,
  type Scope,
  startSshd,
  tmpDir,
  withScope,
} from './helpers/index.js';
import { relayCliArgs, relayClient, startCli } from './helpers/relay.js';
import { type PreAuthCase, preAuthCase, runRawCase } from './helpers/wire-fuzz.js';
import {
  type AuthCase,
  authCase,
  type ChannelAction,
  type PostAuthCase,
  postAuthCase,
} from './helpers/wire-fuzz-requests.js';

const SEED = Number(process.env.WIRE_FUZZ_SEED ?? 20_261_206);
const BUDGET_MS =
  process.env.WIRE_FUZZ_MS === undefined ? undefined : Number(process.env.WIRE_FUZZ_MS);
/** Without a budget: this many batches of each kind. */
const FIXED_BATCHES = 4;
const PRE_AUTH_BATCH = 48;
const POST_AUTH_BATCH = 40;
const AUTH_BATCH = 12;
/** Connections the pre-auth fuzzer keeps open at once (under --max-startups-per-source). */
const PARALLEL = 8;
const LOGIN_GRACE_MS = 2000;
/** Longest a connection or request may go unanswered: the login grace plus generous slack. */
const BOUND_MS = LOGIN_GRACE_MS + 8000;
/** The fuzzer's own source address, so whatever the relay does to it never touches the operator. */
const FUZZ_SOURCE = '127.0.0.2';

interface Live {
  proc: Proc;
  port: number;
  dir: string;
  fuzzKey: string;
  /** A key the policy does not list. */
  strangerKey: string;
  op: Awaited<ReturnType<typeof relayClient>>;
}

async function startLive(s: Scope): Promise<Live> {
  const dir = await tmpDir(s);
  const devKey = await generateKey(dir, 'device');
  const opKey = await generateKey(dir, 'operator');
  const fuzzKey = await generateKey(dir, 'fuzzer');
  const strangerKey = await generateKey(dir, 'stranger');
  const sshd = await startSshd(s, { authorizedKeys: [opKey] });
  await writeFile(
    join(dir, 'authorized_keys'),
    [
      `permitlisten="dev1:22" ${devKey.publicKey}`,
      `permitopen="dev1:22" ${opKey.publicKey}`,
      `permitlisten="fz*:*",permitopen="*:*" ${fuzzKey.publicKey}`,
    ].join('\n'),
  );
  const proc = startCli(s, [
    ...relayCliArgs(dir),
    '--login-grace-time',
    `${LOGIN_GRACE_MS / 1000}s`,
    // The fuzzer misbehaves on purpose: penalties would refuse it before its bytes are parsed.
    '--per-source-penalties',
    'no',
  ]);
  const m = await proc.waitForLine(/"event":"relay.started".*"listen":"127\.0\.0\.1:(\d+)"/, {
    stream: 'stdout',
  });
  const port = Number(m[1]);
  const hostKeyPub = publicKeyOf(join(dir, 'host_key'));
  const device = await relayClient(s, { port, hostKeyPub }, devKey);
  device.spawn([
    '-N',
    '-o',
    'ExitOnForwardFailure=yes',
    '-R',
    `dev1:22:127.0.0.1:${sshd.port}`,
    'relay',
  ]);
  await proc.waitForLine(/"event":"name.registered".*"name":"dev1"/, { stream: 'stdout' });
  const op = await relayClient(s, { port, hostKeyPub }, opKey, [
    { name: 'dev1', hostKeyPub: sshd.hostKeyPub },
  ]);
  return { proc, port, dir, fuzzKey: fuzzKey.path, strangerKey: strangerKey.path, op };
}

/** One `ssh -J`-style login through the relay to dev1 (ProxyJump), which must work. */
async function operatorReaches(live: Live): Promise<void> {
  const r = await live.op.run(['dev1', 'echo', 'alive'], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, `operator ssh -J failed: ${r.stderr}`);
  assert.equal(r.stdout.trim(), 'alive');
}

/** Runs the operator's logins back to back until `stop` resolves; returns how many succeeded. */
async function operatorLoop(live: Live, stop: Promise<void>): Promise<number> {
  let done = false;
  void stop.then(() => {
    done = true;
  });
  let count = 0;
  while (!done) {
    await operatorReaches(live);
    count++;
  }
  return count;
}

function assertAlive(live: Live): void {
  assert.equal(live.proc.exit, undefined, `the relay died: ${live.proc.tail()}`);
}

/** The batches to run: a fixed number, or as many as fit in the budget. */
async function batches(run: (batch: number) => Promise<void>): Promise<number> {
  const until = BUDGET_MS === undefined ? undefined : Date.now() + BUDGET_MS;
  let n = 0;
  while (until === undefined ? n < FIXED_BATCHES : Date.now() < until) await run(n++);
  return n;
}

async function preAuth(live: Live, cases: PreAuthCase[]): Promise<void> {
  const queue = [...cases];
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
        const out = await runRawCase(live.port, c, BOUND_MS, FUZZ_SOURCE);
        assert.ok(out.closedAfterMs < BOUND_MS);
      }
    }),
  );
}

/** An ssh2 client logged in with the fuzzer's key, from the fuzzer's address. */
async function fuzzClient(s: Scope, live: Live): Promise<ssh2.Client> {
  const client = new sshLib.Client();
  s.defer(() => void client.destroy(), 'fuzz client');
  const privateKey = await readFile(live.fuzzKey, 'utf8');
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
    client.connect({
      host: '127.0.0.1',
      port: live.port,
      localAddress: FUZZ_SOURCE,
      username: 'fz',
      privateKey,
      readyTimeout: BOUND_MS,
    });
  });
  client.on('error', () => {});
  return client;
}

/**
 * A login with a hostile user name and method: resolves with whether the relay let it in, once
 * it decided; rejects when it did not decide within BOUND_MS.
 */
async function login(live: Live, c: AuthCase): Promise<'ready' | 'refused'> {
  const client = new sshLib.Client();
  const key = c.method === 'fuzz-key' ? live.fuzzKey : live.strangerKey;
  const privateKey = await readFile(key, 'utf8');
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(`login ${JSON.stringify(c).slice(0, 300)} undecided after ${BOUND_MS} ms`),
        );
      }, BOUND_MS);
      const done = (r: 'ready' | 'refused') => {
        clearTimeout(timer);
        resolve(r);
      };
      client.once('ready', () => done('ready'));
      client.on('error', () => done('refused'));
      client.once('close', () => done('refused'));
      const auth =
        c.method === 'fuzz-key' || c.method === 'unknown-key'
          ? { privateKey }
          : c.method === 'password'
            ? { password: c.password }
            : c.method === 'keyboard-interactive'
              ? { tryKeyboard: true }
              : { authHandler: ['none'] as ['none'] };
      client.on('keyboard-interactive', (_n, _i, _l, prompts, finish) =>
        finish(prompts.map(() => c.password)),
      );
      client.connect({
        host: '127.0.0.1',
        port: live.port,
        localAddress: FUZZ_SOURCE,
        username: c.username,
        readyTimeout: BOUND_MS,
        ...auth,
      });
    });
  } finally {
    client.destroy();
  }
}

type Answer = 'answered' | 'closed' | 'not sent';

/**
 * Makes one hostile request and resolves once the relay answered it (any reply, a channel or a
 * refusal) or closed the connection; rejects when neither happened within BOUND_MS.
 */
function request(client: ssh2.Client, c: PostAuthCase): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (a: Answer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.off('close', onClose);
      resolve(a);
    };
    const onClose = () => settle('closed');
    const timer = setTimeout(() => {
      settled = true;
      client.off('close', onClose);
      reject(new Error(`no answer within ${BOUND_MS} ms to ${JSON.stringify(c).slice(0, 300)}`));
    }, BOUND_MS);
    client.once('close', onClose);
    const answered = () => settle('answered');
    const after = 'after' in c ? c.after : ({ kind: 'close' } as const);
    const channel = (err: Error | undefined, ch?: ssh2.ClientChannel) => {
      if (!err && ch) {
        ch.on('error', () => {});
        act(ch, after);
      }
      answered();
    };
    try {
      switch (c.kind) {
        case 'global':
          // Without a reply wanted, a keepalive after it shows the relay is still answering.
          if (c.wantReply) client.sendGlobalRequest(c.name, true, c.data, answered);
          else {
            client.sendGlobalRequest(c.name, false, c.data);
            client.sendGlobalRequest('keepalive@openssh.com', true, undefined, answered);
          }
          break;
        case 'forward-in':
          client.forwardIn(c.bind, c.port, answered);
          break;
        case 'direct-tcpip':
          client.forwardOut('127.0.0.1', 1, c.host, c.port, channel);
          break;
        case 'direct-streamlocal':
          client.openssh_forwardOutStreamLocal(c.path, channel);
          break;
        case 'exec':
          client.exec(c.command, channel);
          break;
        case 'shell':
          client.shell(channel);
          break;
        case 'subsystem':
          client.subsys(c.name, channel);
          break;
      }
    } catch {
      // ssh2 refused to encode it (a value it checks itself): nothing reached the relay.
      settle('not sent');
    }
  });
}

/** Does `action` on an open channel, then closes it; the relay answers the next request after. */
function act(ch: ssh2.ClientChannel, action: ChannelAction): void {
  try {
    if (action.kind === 'write') {
      ch.write(action.data);
      if (action.eof) ch.end();
    } else if (action.kind === 'write-after-eof') {
      ch.end();
      ch.write(action.data);
    } else if (action.kind === 'signal') ch.signal(action.name);
    else if (action.kind === 'window') ch.setWindow(action.rows, action.cols, 0, 0);
  } catch {
    // ssh2 refused it locally (writing after end, say): nothing reached the relay.
  }
  ch.close();
}

async function postAuth(
  s: Scope,
  live: Live,
  cases: PostAuthCase[],
): Promise<Record<Answer, number>> {
  const seen: Record<Answer, number> = { answered: 0, closed: 0, 'not sent': 0 };
  let client: ssh2.Client | undefined;
  // Requests go out in bursts of 1 to 4 at once, before any answer, as a pipelining client sends.
  for (let i = 0, size = 1; i < cases.length; i += size, size = (size % 4) + 1) {
    const c = client ?? (await fuzzClient(s, live));
    client = c;
    const got = await Promise.all(cases.slice(i, i + size).map((one) => request(c, one)));
    for (const answer of got) seen[answer]++;
    if (got.includes('closed')) {
      c.destroy();
      client = undefined;
    }
  }
  client?.end();
  return seen;
}

describe('relay wire fuzzing (live relay process)', () => {
  it(`survives mutated SSH before and hostile requests after authentication (seed ${SEED})`, async (t) =>
    withScope(t, async (s) => {
      const live = await startLive(s);
      await operatorReaches(live);
      let stop: () => void = () => {};
      const stopped = new Promise<void>((r) => {
        stop = r;
      });
      const operator = operatorLoop(live, stopped);
      // Awaited below; when the fuzzing itself fails, that failure is the one reported.
      operator.catch(() => {});
      const answers: Record<Answer, number> = { answered: 0, closed: 0, 'not sent': 0 };
      const logins = { ready: 0, refused: 0 };
      let preCases = 0;
      try {
        const n = await batches(async (batch) => {
          const pre = fc.sample(preAuthCase, { seed: SEED + batch, numRuns: PRE_AUTH_BATCH });
          await preAuth(live, pre);
          preCases += pre.length;
          assertAlive(live);
          const post = fc.sample(postAuthCase, { seed: SEED + batch, numRuns: POST_AUTH_BATCH });
          const seen = await postAuth(s, live, post);
          for (const k of Object.keys(seen) as Answer[]) answers[k] += seen[k];
          assertAlive(live);
          for (const c of fc.sample(authCase, { seed: SEED + batch, numRuns: AUTH_BATCH })) {
            const got = await login(live, c);
            logins[got]++;
            // The policy lets in only the fuzzer's key; no user name or method gets past it.
            if (c.method !== 'fuzz-key')
              assert.equal(got, 'refused', JSON.stringify(c).slice(0, 200));
          }
          assertAlive(live);
        });
        t.diagnostic(
          `${n} batches: ${preCases} pre-auth connections, logins ${JSON.stringify(logins)}, ` +
            `post-auth requests ${JSON.stringify(answers)}`,
        );
      } finally {
        stop();
      }
      const operatorLogins = await operator;
      assert.ok(operatorLogins >= 1, 'the operator logged in while the fuzzer ran');
      t.diagnostic(`operator logins during the fuzzing: ${operatorLogins}`);
      // After: still up, still routing, and its log holds no crash.
      await operatorReaches(live);
      assertAlive(live);
      assert.doesNotMatch(live.proc.output('stderr'), /uncaught|unhandled|TypeError|RangeError/i);
      assert.ok(answers.answered > 0, 'some hostile requests got an answer');
    }));
});
