/**
 * Every registration form and every connection form, with real OpenSSH on both sides:
 * device = `ssh -N -R …` + a real sshd, client = `ssh -J / -W / -L / nc -U`.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { describe, it } from 'node:test';
import { freePort, type Scope, waitFor, withScope } from './helpers/index.js';
import { forwardTo, relayClient, startWorld } from './helpers/relay.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** A TCP echo server that honours half-close: it answers everything, then closes. */
async function echoServer(scope: Scope): Promise<number> {
  const server: Server = createServer({ allowHalfOpen: true }, (sock) => {
    sock.pipe(sock);
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  scope.defer(() => new Promise<void>((r) => server.close(() => r())), 'echo server');
  const addr = server.address();
  return typeof addr === 'object' && addr ? addr.port : 0;
}

function setup(s: Scope, policy: (dev: string, op: string) => string[]) {
  return startWorld(s, { policy });
}

describe('relay: registration and connection forms', () => {
  it('ssh -R NAME:22 is reachable with -J, -W, -L and nc -U', async (t) =>
    withScope(t, async (s) => {
      const { opKey, sshd, relay, register, op } = await setup(s, (dev, op) => [
        `permitlisten="dev1:22" ${dev}`,
        `permitopen="dev1:22" ${op}`,
      ]);
      await register([forwardTo('dev1', 22, sshd)], 'dev1');
      op.addHost({
        alias: 'via-w',
        hostName: null,
        user: 'root',
        hostKeyAlias: 'dev1',
        options: { ProxyCommand: `${op.command()} -W dev1:22 relay` },
      });
      op.addHost({
        alias: 'via-nc',
        hostName: null,
        user: 'root',
        hostKeyAlias: 'dev1',
        options: { ProxyCommand: `${op.command()} relay nc -U /run/burrow/dev1.sock` },
      });

      const viaJ = await op.run(['dev1', 'echo', 'via-J']);
      assert.equal(viaJ.stdout.trim(), 'via-J', viaJ.stderr);
      const viaW = await op.run(['via-w', 'echo', 'via-W']);
      assert.equal(viaW.stdout.trim(), 'via-W', viaW.stderr);
      const viaNc = await op.run(['via-nc', 'echo', 'via-nc']);
      assert.equal(viaNc.stdout.trim(), 'via-nc', viaNc.stderr);

      // ssh -L cannot take port 0; a free port can still be taken before ssh binds it, so a
      // bind collision starts over on a new port.
      const viaL = await waitFor(
        async () => {
          const lport = await freePort();
          const forward = op.spawn(['-N', '-L', `127.0.0.1:${lport}:dev1:22`, 'relay'], {
            name: 'ssh -L',
          });
          op.addHost({ alias: `via-l-${lport}`, port: lport, user: 'root', hostKeyAlias: 'dev1' });
          for (let i = 0; i < 40 && !forward.exit; i++) {
            const r = await op.run([`via-l-${lport}`, 'echo', 'via-L']);
            if (r.code === 0) return r;
            await new Promise((res) => setTimeout(res, 100));
          }
          if (!/Address already in use/.test(forward.tail())) {
            throw new Error(`ssh -L failed: ${forward.tail()}`);
          }
          return undefined;
        },
        { what: 'ssh through the -L forward', timeoutMs: 20_000 },
      );
      assert.equal(viaL.stdout.trim(), 'via-L');

      const closed = relay.audit.all('connect.closed');
      assert.deepEqual(new Set(closed.map((e) => e.via)), new Set(['direct-tcpip', 'nc']));
      for (const e of closed) {
        assert.equal(e.to, 'dev1:22');
        assert.equal(e.fp, opKey.fingerprint);
        assert.ok(e.bytes_to_device > 0 && e.bytes_from_device > 0, JSON.stringify(e));
      }
    }));

  it('the stream-local form registers NAME:22, and one connection can use both forms', async (t) =>
    withScope(t, async (s) => {
      const echoPort = await echoServer(s);
      const { opKey, sshd, relay, device, devKey } = await setup(s, (dev, op) => [
        `permitlisten="dev2:22",permitlisten="dev2:8080" ${dev}`,
        `permitopen="dev2:*" ${op}`,
      ]);
      const proc = device.spawn(
        [
          '-N',
          '-R',
          `/var/run/anything/dev2.sock:127.0.0.1:${sshd.port}`,
          '-R',
          `dev2:8080:127.0.0.1:${echoPort}`,
          'relay',
        ],
        { name: 'device dev2' },
      );
      await waitFor(
        () => {
          if (proc.exit) throw new Error(proc.tail());
          const names = relay.audit
            .all('name.registered')
            .filter((e) => e.fp === devKey.fingerprint);
          return names.length === 2;
        },
        { what: 'both registrations' },
      );
      const forms = relay.audit
        .all('name.registered')
        .map((e) => `${e.name}:${e.port}/${e.form}`)
        .sort();
      assert.deepEqual(forms, ['dev2:22/streamlocal', 'dev2:8080/tcpip']);

      const op = await relayClient(s, relay, opKey, [
        { name: 'dev2', hostKeyPub: sshd.hostKeyPub },
      ]);
      const viaJ = await op.run(['dev2', 'echo', 'ok']);
      assert.equal(viaJ.stdout.trim(), 'ok', viaJ.stderr);

      const payload = Buffer.from('hello through dev2:8080\n');
      const echoed = await op.run(['-W', 'dev2:8080', 'relay'], { input: payload });
      assert.equal(echoed.stdout, payload.toString(), echoed.stderr);
    }));

  it('carries large streams intact both ways, including data behind an EOF', async (t) =>
    withScope(t, async (s) => {
      const echoPort = await echoServer(s);
      const { opKey, sshd, relay, register } = await setup(s, (dev, op) => [
        `permitlisten="big:22",permitlisten="big:7000" ${dev}`,
        `permitopen="big:*" ${op}`,
      ]);
      await register([forwardTo('big', 22, sshd), `big:7000:127.0.0.1:${echoPort}`], 'big');
      const op = await relayClient(s, relay, opKey, [{ name: 'big', hostKeyPub: sshd.hostKeyPub }]);

      // 24 MiB up through -J, hashed on the device.
      const up = randomBytes(24 * 1024 * 1024);
      const r = await op.run(['big', 'sha256sum'], { input: up, timeoutMs: 60_000 });
      assert.equal(r.stdout.split(' ')[0], sha(up), r.stderr);

      // 8 MiB to an echo server and back; stdin ends (EOF) long before the echo does.
      const data = randomBytes(8 * 1024 * 1024);
      await waitFor(() => relay.audit.all('name.registered').some((e) => e.port === 7000), {
        what: 'big:7000',
      });
      const echo = await op.run(['-W', 'big:7000', 'relay'], { input: data, timeoutMs: 60_000 });
      assert.equal(echo.stdoutBuffer.length, data.length, echo.stderr);
      assert.equal(sha(echo.stdoutBuffer), sha(data));

      // 16 MiB down from the device.
      const down = await op.run(['big', 'head', '-c', String(16 * 1024 * 1024), '/dev/zero'], {
        timeoutMs: 60_000,
      });
      assert.equal(down.stdoutBuffer.length, 16 * 1024 * 1024, down.stderr);

      await waitFor(() => relay.relay.stats().connections === 1, {
        what: 'client connections to be released',
      });
    }));
});
