/**
 * A `burrow relay --auth-webhook` world for the webhook tests: the relay CLI with a policy file,
 * a test hook (helpers/webhook.ts), a device key and sshd, and the OpenSSH steps those tests take.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditEvent } from '../../src/audit/audit.js';
import {
  generateKey,
  type KeyPair,
  type Proc,
  publicKeyOf,
  type Scope,
  type SshClient,
  startSshd,
  tmpDir,
  waitFor,
  within,
} from './index.js';
import { type AuditEventOf, auditedBy, relayCliArgs, relayClient, startCli } from './relay.js';
import { type HookReply, startHook, type TestHook } from './webhook.js';

export interface CliRelay {
  readonly proc: Proc;
  readonly port: number;
  readonly hostKeyPub: string;
  /** Audit events written so far (the audit trail is the relay's stdout). */
  events<E extends AuditEvent['event']>(event: E): AuditEventOf<E>[];
}

/** Starts `burrow relay --auth-webhook …` with `policy` as its file; waits for relay.started. */
export async function startRelay(
  s: Scope,
  dir: string,
  policy: string,
  extra: string[],
): Promise<CliRelay> {
  writeFileSync(join(dir, 'authorized_keys'), policy);
  const proc = startCli(s, [...relayCliArgs(dir), '--log-level', 'debug', ...extra]);
  const m = await proc.waitForLine(/"event":"relay.started".*"listen":"127\.0\.0\.1:(\d+)"/, {
    stream: 'stdout',
  });
  const hostKeyPub = publicKeyOf(join(dir, 'host_key'));
  return {
    proc,
    port: Number(m[1]),
    hostKeyPub,
    events: (event) => auditedBy(proc, event),
  };
}

export const allow = (
  permitlisten: string[],
  ttl_s: number,
  permitopen: string[] = [],
): HookReply => ({
  json: { allow: true, permitlisten, permitopen, ttl_s },
});

/** Runs `ssh -N -R forward relay` and waits until the relay has registered `name` for `key`. */
export async function register(
  device: SshClient,
  relay: CliRelay,
  key: KeyPair,
  forward: string,
): Promise<Proc> {
  const name = forward.split(':')[0];
  const before = relay.events('name.registered').length;
  const proc = device.spawn(['-N', '-R', forward, 'relay'], { name: `device ${forward}` });
  await waitFor(
    () => {
      if (proc.exit) throw new Error(`device ssh exited: ${proc.tail()}`);
      return relay
        .events('name.registered')
        .slice(before)
        .some((e) => e.name === name && e.fp === key.fingerprint);
    },
    { what: `relay to register ${forward}` },
  );
  return proc;
}

/** Runs `ssh -N -R forward relay` expecting it to fail; resolves with its exit and output. */
export async function tryRegister(device: SshClient, forward: string) {
  const proc = device.spawn(['-N', '-R', forward, 'relay'], { name: `device ${forward}` });
  const exit = await within(proc.stopped(), 15_000, `ssh -R ${forward} to exit`);
  return { code: exit.code, output: proc.output() };
}

/** The last auth.refused reason for `key`, once there is one after `mark`. */
export async function refusedFor(relay: CliRelay, key: KeyPair, mark: number): Promise<string> {
  const e = await waitFor(
    () =>
      relay
        .events('auth.refused')
        .slice(mark)
        .find((e) => e.fp === key.fingerprint),
    { what: `auth.refused for ${key.comment}` },
  );
  return e.reason;
}

export interface Cast {
  dir: string;
  hook: TestHook;
  relay: CliRelay;
  devKey: KeyPair;
  device: SshClient;
  sshdPort: number;
}

export async function cast(
  s: Scope,
  reply: HookReply,
  opts: { dir?: string; policy?: string; extra?: string[] } = {},
): Promise<Cast> {
  const dir = opts.dir ?? (await tmpDir(s));
  const devKey = await generateKey(dir, 'device');
  const hook = await startHook(s, reply);
  const sshd = await startSshd(s);
  const policy = opts.policy ?? '';
  const relay = await startRelay(s, dir, policy, [
    '--auth-webhook',
    hook.url,
    '--auth-webhook-timeout',
    '500ms',
    ...(opts.extra ?? []),
  ]);
  const device = await relayClient(s, relay, devKey);
  return { dir, hook, relay, devKey, device, sshdPort: sshd.port };
}
