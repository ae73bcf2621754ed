/**
 * What a person at a terminal sees from `burrow relay`: one readable line per log record and per
 * audit event (`--log-format text`, or by default on a real TTY), JSON lines otherwise, hostile
 * strings escaped, and "address in use" naming the process that holds the port.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pty from '@lydell/node-pty';
import { capField } from '../src/audit/limits.js';
import ssh2 from '../src/ssh/ssh2.js';
import { runCommand, type Scope, tmpDir, waitFor, withScope } from './helpers/index.js';
import { CLI_PATH, relayCliArgs, startCli } from './helpers/relay.js';

const CLOCK = String.raw`\d\d:\d\d:\d\d\.\d{3}`;

async function relayDir(s: Scope): Promise<{ dir: string; args: string[] }> {
  const dir = await tmpDir(s);
  writeFileSync(join(dir, 'authorized_keys'), '');
  const args = relayCliArgs(dir);
  return { dir, args };
}

/** Tries to log in with a password (which the relay never allows) as `user`; resolves once the relay has refused. */
function refusedLogin(port: number, user: string): Promise<void> {
  return new Promise((resolve) => {
    const c = new ssh2.Client();
    c.on('error', () => resolve()); // "All configured authentication methods failed"
    c.on('ready', () => {
      c.end();
      resolve();
    });
    c.connect({ host: '127.0.0.1', port, username: user, password: 'x', hostVerifier: () => true });
  });
}

const HOSTILE_USER = 'x\n12:00:00.000 AUDIT auth.accepted user=root\x1b[2J\x1b]0;pwned\x07';

describe('burrow relay on a terminal', () => {
  it('--log-format text: one readable line per log record and per audit event, escaped', async (t) =>
    withScope(t, async (s) => {
      const { args } = await relayDir(s);
      const proc = startCli(s, [...args, '--log-format', 'text']);
      const started = await proc.waitForLine(
        new RegExp(
          `^${CLOCK} INFO  relay listening on 127\\.0\\.0\\.1:(\\d+), host key SHA256:\\S+ `,
        ),
        { stream: 'stderr' },
      );
      const port = Number(started[1]);
      await proc.waitForLine(
        new RegExp(
          `^${CLOCK} AUDIT relay\\.started relay=\\S+ listen=127\\.0\\.0\\.1:${port} host_key=SHA256:\\S+$`,
        ),
        { stream: 'stdout' },
      );
      await refusedLogin(port, HOSTILE_USER);
      const refused = await proc.waitForLine(new RegExp(`^${CLOCK} AUDIT auth\\.refused .*`), {
        stream: 'stdout',
      });
      // The relay's audit already turns a peer's control characters into '?' (audit/limits.ts);
      // the text form then quotes the value, so it cannot fake a line or reach the terminal.
      assert.ok(
        refused[0].includes('user="x?12:00:00.000 AUDIT auth.accepted user=root?[2J?]0;pwned?"'),
        refused[0],
      );
      await proc.stop();
      const all = `${proc.output('stdout')}${proc.output('stderr')}`;
      assert.ok(!all.includes('\x1b') && !all.includes('\x07'), 'no raw ESC or BEL in the output');
      for (const line of all.split('\n').filter(Boolean)) {
        assert.match(line, new RegExp(`^${CLOCK} (INFO |WARN |DEBUG|ERROR|AUDIT) `), line);
      }
      assert.doesNotMatch(all, /pid=|hostname=/);
      assert.equal(all.match(/auth\.accepted/g)?.length, 1, 'only inside the quoted user name');
    }));

  it('--log-format json wins over BURROW_LOG_FORMAT=text: JSON lines on both streams', async (t) =>
    withScope(t, async (s) => {
      const { args } = await relayDir(s);
      const proc = startCli(s, [...args, '--log-format', 'json'], {
        env: { BURROW_LOG_FORMAT: 'text' },
      });
      const m = await proc.waitForLine(/"event":"relay\.started".*"listen":"127\.0\.0\.1:(\d+)"/, {
        stream: 'stdout',
      });
      await proc.waitForLine(/"msg":"relay listening on/, { stream: 'stderr' });
      await refusedLogin(Number(m[1]), HOSTILE_USER);
      await proc.waitForLine(/"event":"auth\.refused"/, { stream: 'stdout' });
      await proc.stop();
      for (const stream of ['stdout', 'stderr'] as const) {
        for (const line of proc.output(stream).split('\n').filter(Boolean)) {
          assert.doesNotThrow(() => JSON.parse(line), `${stream}: ${line}`);
        }
      }
      const refused = proc
        .output('stdout')
        .split('\n')
        .map((l) => (l ? JSON.parse(l) : {}))
        .find((e) => e.event === 'auth.refused');
      assert.equal(refused.user, capField(HOSTILE_USER));
    }));

  it('BURROW_LOG_FORMAT=text is read from the environment', async (t) =>
    withScope(t, async (s) => {
      const { args } = await relayDir(s);
      const proc = startCli(s, args, { env: { BURROW_LOG_FORMAT: 'text' } });
      await proc.waitForLine(new RegExp(`^${CLOCK} AUDIT relay\\.started `), { stream: 'stdout' });
    }));

  it('a real terminal gets text by default; an audit file stays JSON lines', async (t) =>
    withScope(t, async (s) => {
      const { dir, args } = await relayDir(s);
      const auditFile = join(dir, 'audit.jsonl');
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(process.env)) {
        if (v !== undefined && !k.startsWith('BURROW_LOG')) env[k] = v;
      }
      const run = (extra: string[]) => {
        const term = pty.spawn(process.execPath, [CLI_PATH, ...args, ...extra], {
          name: 'xterm',
          cols: 200,
          rows: 24,
          cwd: dir,
          env,
        });
        let output = '';
        let exited = false;
        term.onData((d) => {
          output += d;
        });
        const done = new Promise<void>((resolve) =>
          term.onExit(() => {
            exited = true;
            resolve();
          }),
        );
        s.defer(async () => {
          if (!exited) term.kill('SIGKILL');
          await done;
        }, 'relay under a pty');
        return {
          output: () => output,
          stop: async () => {
            term.kill('SIGTERM');
            await done;
          },
        };
      };
      const onTty = run([]);
      await waitFor(() => /AUDIT relay\.started /.test(onTty.output()) || undefined, {
        what: 'the text audit line on the terminal',
      });
      await waitFor(() => /INFO {2}relay listening on /.test(onTty.output()) || undefined, {
        what: 'the text start line on the terminal',
      });
      await onTty.stop();
      assert.doesNotMatch(onTty.output(), /^\{/m, 'no JSON line on the terminal');

      const toFile = run(['--audit-log', auditFile, '--log-format', 'text']);
      await waitFor(() => /relay listening on /.test(toFile.output()) || undefined, {
        what: 'the start line',
      });
      await toFile.stop();
      const lines = readFileSync(auditFile, 'utf8').trim().split('\n');
      assert.ok(lines.length >= 2, lines.join('\n'));
      for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), line);
    }));

  it('rejects a bad --log-format with exit 2 naming the flag, for the relay and the agent', async (t) =>
    withScope(t, async (s) => {
      const { args } = await relayDir(s);
      const cases: [string[], Record<string, string>][] = [
        [[...args, '--log-format', 'xml'], {}],
        [args, { BURROW_LOG_FORMAT: 'pretty' }],
        [['agent', '--name', 'dev1', '--log-format', 'xml'], {}],
      ];
      for (const [argv, env] of cases) {
        const r = await runCommand(s, process.execPath, [CLI_PATH, ...argv], { env });
        assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr.split('\n')[0] ?? '', /--log-format.*invalid.*json, text/);
      }
    }));

  it('says which process holds the port when the address is in use, and exits 1', async (t) =>
    withScope(t, async (s) => {
      const holder = createServer();
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
      s.defer(() => new Promise<void>((resolve) => holder.close(() => resolve())), 'holder');
      const port = (holder.address() as { port: number }).port;
      const { args } = await relayDir(s);
      const argv = [...args.slice(0, 1), ...args.slice(3), '--listen', `127.0.0.1:${port}`];
      const r = await runCommand(s, process.execPath, [CLI_PATH, ...argv]);
      assert.equal(r.code, 1, r.stderr);
      const plain = r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('{'));
      assert.equal(plain.length, 1, r.stderr);
      const line = plain[0] ?? '';
      const want = `burrow: cannot listen on 127.0.0.1:${port}: address in use (by pid ${process.pid}: `;
      assert.ok(line.startsWith(want), `${line}\nwanted it to start with ${want}`);
      assert.ok(line.includes(process.execPath) || line.includes('node'), line);
      assert.ok(line.endsWith(')'), line);
    }));
});
