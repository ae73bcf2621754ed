/**
 * `burrow keys` against a running `burrow relay`: keys added with the documented commands work at
 * once with real OpenSSH (a device registers with `ssh -R`, an operator reaches it with `ssh -J`),
 * a removed key is refused on its next connection, and every edit keeps the file's mode and its
 * other lines. Bad input is refused with one line and nothing written; concurrent runs all land.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  generateKey,
  type Proc,
  runCommand,
  type Scope,
  startSshd,
  tmpDir,
  withScope,
} from './helpers/index.js';
import { CLI_PATH, relayClient, startCli } from './helpers/relay.js';

/** `burrow …args` run in `cwd` with BURROW_DATA_DIR=`data`. */
function burrow(s: Scope, cwd: string, data: string, args: string[], input?: string) {
  return runCommand(s, process.execPath, [CLI_PATH, ...args], {
    cwd,
    env: { BURROW_DATA_DIR: data },
    timeoutMs: 20_000,
    ...(input === undefined ? {} : { input }),
  });
}

/** Waits for the relay's audit line saying it loaded a policy with `keys` usable keys. */
function policyLoaded(relay: Proc, keys: number, from: number) {
  return relay.waitForLine(new RegExp(`"event":"policy.loaded".*"keys":${keys},`), {
    stream: 'stdout',
    from,
  });
}

const FP = /SHA256:[A-Za-z0-9+/]{43}/;

describe('burrow keys (CLI)', () => {
  it('adds keys a running relay uses at once, lists them, and removes one', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      const data = join(dir, 'data');
      const devKey = await generateKey(dir, 'device_key');
      const opKey = await generateKey(dir, 'operator_key');
      const sshd = await startSshd(s, { authorizedKeys: [opKey] });
      const relay = startCli(s, ['relay', '--listen', '127.0.0.1:0'], {
        env: { BURROW_DATA_DIR: data },
      });
      const started = await relay.waitForLine(/"event":"relay.started".*"listen":"[^"]*:(\d+)"/, {
        stream: 'stdout',
      });
      const file = join(data, 'authorized_keys');
      const template = readFileSync(file, 'utf8');
      chmodSync(file, 0o640);

      let mark = relay.mark();
      const addDev = await burrow(s, dir, data, [
        'keys',
        'add',
        '--listen',
        'dev1:22',
        'device_key.pub',
      ]);
      assert.equal(addDev.code, 0, addDev.stderr);
      assert.equal(
        addDev.stdout,
        `added ${devKey.fingerprint} (ed25519) to ${file}: listen dev1:22\n`,
      );
      await policyLoaded(relay, 1, mark);
      mark = relay.mark();
      const addOp = await burrow(s, dir, data, [
        'keys',
        'add',
        '--open',
        '*:22',
        'operator_key.pub',
      ]);
      assert.equal(addOp.code, 0, addOp.stderr);
      assert.equal(addOp.stdout, `added ${opKey.fingerprint} (ed25519) to ${file}: open *:22\n`);
      // The relay follows the file through each rename-over, without a restart or SIGHUP.
      await policyLoaded(relay, 2, mark);

      const text = readFileSync(file, 'utf8');
      assert.ok(text.startsWith(template), 'the lines already there are kept as they were');
      assert.equal(statSync(file).mode & 0o777, 0o640, 'mode kept');
      const added = text.slice(template.length).split('\n');
      assert.match(
        added[0]!,
        new RegExp(
          `^# added \\S+Z by burrow keys add: ${devKey.fingerprint.replace(/[+/]/g, '\\$&')} listen dev1:22$`,
        ),
      );
      assert.equal(added[1], `permitlisten="dev1:22" ${devKey.publicLine}`);
      assert.equal(added[3], `permitopen="*:22" ${opKey.publicLine}`);

      // A device registers, an operator reaches it: real OpenSSH both sides.
      const hostKeyPub = execFileSync('ssh-keygen', ['-yf', join(data, 'relay_host_ed25519_key')], {
        encoding: 'utf8',
      }).trim();
      const port = Number(started[1]);
      const device = await relayClient(s, { port, hostKeyPub }, devKey);
      const op = await relayClient(s, { port, hostKeyPub }, opKey, [
        { name: 'dev1', hostKeyPub: sshd.hostKeyPub },
      ]);
      const reg = relay.mark();
      device.spawn(['-N', '-R', `dev1:22:127.0.0.1:${sshd.port}`, 'relay'], { name: 'device' });
      await relay.waitForLine(/"event":"name.registered".*"name":"dev1"/, { from: reg });
      const reached = await op.run(['-J', 'relay', 'dev1', 'echo', 'reached dev1']);
      assert.equal(reached.code, 0, reached.stderr);
      assert.equal(reached.stdout, 'reached dev1\n');

      // list: one line per key, line numbers as in the file.
      const lines = template.split('\n').length - 1;
      const list = await burrow(s, dir, data, ['keys', 'list']);
      assert.equal(list.code, 0, list.stderr);
      assert.equal(list.stderr, '');
      const rows = list.stdout.trimEnd().split('\n');
      assert.equal(rows.length, 2, list.stdout);
      assert.match(
        rows[0]!,
        new RegExp(
          `^${lines + 2}  ${devKey.fingerprint.replace(/[+/]/g, '\\$&')}  ed25519  device_key\\s+listen dev1:22$`,
        ),
      );
      assert.match(
        rows[1]!,
        new RegExp(`^${lines + 4}  \\S+  ed25519  operator_key\\s+open \\*:22$`),
      );
      const json = await burrow(s, dir, data, ['keys', 'list', '--json']);
      const parsed = JSON.parse(json.stdout) as { fingerprint: string; open: string[] }[];
      assert.deepEqual(
        parsed.map((r) => [r.fingerprint, r.open]),
        [
          [devKey.fingerprint, []],
          [opKey.fingerprint, ['*:22']],
        ],
      );

      // Bad input: one line, exit 2, the file untouched.
      const before = readFileSync(file, 'utf8');
      writeFileSync(join(dir, 'garbage.pub'), 'this is not a key\n');
      const refusals: [string[], number, RegExp][] = [
        [['keys', 'add', '--open', '*:22', 'garbage.pub'], 2, /garbage\.pub: not a key line/],
        [
          ['keys', 'add', '--open', '*:22', 'operator_key'],
          2,
          /operator_key: this is a private key/,
        ],
        [['keys', 'add', 'operator_key.pub'], 2, /at least one --listen or --open/],
        [
          ['keys', 'add', '--listen', 'dev1', 'operator_key.pub'],
          2,
          /^burrow: --listen: "dev1" needs NAME:PORT/,
        ],
        [
          ['keys', 'add', '--open', 'a:1', '--from', 'example.com', 'operator_key.pub'],
          2,
          /--from: /,
        ],
        [
          ['keys', 'add', '--open', 'a:1', '--expiry', 'tomorrow', 'operator_key.pub'],
          2,
          /--expiry: /,
        ],
        [
          ['keys', 'add', '--open', '*:22', 'operator_key.pub'],
          1,
          new RegExp(`is already in .* \\(line ${lines + 4}\\); use --replace`),
        ],
        [['keys', 'remove', 'SHA256:nope'], 2, /not a SHA256 fingerprint/],
        [['keys', 'remove', `SHA256:${'A'.repeat(43)}`], 1, /is not in /],
      ];
      for (const [args, code, message] of refusals) {
        const r = await burrow(s, dir, data, args);
        assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, message);
        assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
        assert.equal(r.stdout, '');
        assert.equal(readFileSync(file, 'utf8'), before, `${args.join(' ')} changed the file`);
      }

      // remove: the operator's next connection is refused.
      mark = relay.mark();
      const removed = await burrow(s, dir, data, ['keys', 'remove', opKey.fingerprint]);
      assert.equal(removed.code, 0, removed.stderr);
      assert.equal(removed.stdout, `removed ${opKey.fingerprint} from ${file} (2 lines)\n`);
      await policyLoaded(relay, 1, mark);
      const refused = await op.run(['-J', 'relay', 'dev1', 'echo', 'reached dev1']);
      assert.equal(refused.code, 255);
      assert.match(refused.stderr, /Permission denied \(publickey\)/);
      assert.equal(statSync(file).mode & 0o777, 0o640, 'mode kept');
      assert.equal(readFileSync(file, 'utf8'), `${template}${added.slice(0, 2).join('\n')}\n`);
      assert.deepEqual(readdirSync(data).sort(), ['authorized_keys', 'relay_host_ed25519_key']);
    }));

  it('creates a missing file 0600 in a 0700 directory, and reads a key from stdin', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      const data = join(dir, 'new', 'data');
      const key = await generateKey(dir, 'k');
      const r = await burrow(
        s,
        dir,
        data,
        ['keys', 'add', '--listen', 'box:22', '-'],
        key.publicLine,
      );
      assert.equal(r.code, 0, r.stderr);
      const file = join(data, 'authorized_keys');
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(statSync(data).mode & 0o777, 0o700);
      assert.match(readFileSync(file, 'utf8'), /^# added .*\npermitlisten="box:22" ssh-ed25519 /);
    }));

  it('runs the README forms: --from and --expiry, and remove by key file', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      const data = join(dir, 'data');
      const opKey = await generateKey(dir, 'operator_key');
      const args = '--open *:22 --from 10.0.0.0/8 --expiry 20301231Z operator_key.pub';
      const add = await burrow(s, dir, data, ['keys', 'add', ...args.split(' ')]);
      assert.equal(add.code, 0, add.stderr);
      assert.match(
        add.stdout,
        /: open \*:22, from 10\.0\.0\.0\/8, until 2030-12-31T00:00:00\.000Z\n$/,
      );
      const file = join(data, 'authorized_keys');
      assert.match(
        readFileSync(file, 'utf8'),
        /\npermitopen="\*:22",from="10\.0\.0\.0\/8",expiry-time="20301231Z" ssh-ed25519 /,
      );
      const removed = await burrow(s, dir, data, ['keys', 'remove', 'operator_key.pub']);
      assert.equal(removed.code, 0, removed.stderr);
      assert.equal(removed.stdout, `removed ${opKey.fingerprint} from ${file} (2 lines)\n`);
      assert.equal(readFileSync(file, 'utf8'), '');
    }));

  it('lets concurrent runs all land, and takes over a stale lock', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      const data = join(dir, 'data');
      const file = join(data, 'authorized_keys');
      const keys = await Promise.all(
        Array.from({ length: 6 }, (_, i) => generateKey(dir, `k${i}`)),
      );
      const runs = await Promise.all(
        keys.map((k, i) =>
          burrow(s, dir, data, ['keys', 'add', '--listen', `dev${i}:22`, k.pubPath]),
        ),
      );
      for (const r of runs) assert.equal(r.code, 0, r.stderr);
      const list = await burrow(s, dir, data, ['keys', 'list']);
      assert.equal(list.stdout.trimEnd().split('\n').length, 6, list.stdout);
      for (const k of keys) assert.ok(list.stdout.includes(k.fingerprint), k.fingerprint);
      assert.deepEqual(readdirSync(data), ['authorized_keys'], 'no lock or temporary file left');

      // A lock left by a run that died long ago does not block the next one.
      const lock = `${file}.lock`;
      writeFileSync(lock, '99999\n');
      const old = new Date(Date.now() - 60_000);
      utimesSync(lock, old, old);
      const r = await burrow(s, dir, data, ['keys', 'remove', keys[0]!.fingerprint]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, FP);
      assert.deepEqual(readdirSync(data), ['authorized_keys']);
    }));

  it('explains itself: keys --help and each subcommand, with examples', async (t) =>
    withScope(t, async (s) => {
      const dir = await tmpDir(s);
      for (const args of [
        ['keys', '--help'],
        ['keys', 'add', '--help'],
        ['keys', 'list', '--help'],
        ['keys', 'remove', '--help'],
      ]) {
        const r = await burrow(s, dir, join(dir, 'data'), args);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /Examples:\n {2}burrow keys /);
      }
      const bare = await burrow(s, dir, join(dir, 'data'), ['keys']);
      assert.equal(bare.code, 2);
      assert.match(bare.stderr, /add \[options\] <PUBKEY_FILE>/);
    }));
});
