/**
 * Which algorithms the connections actually negotiated, from `ssh -v` (kex lines), for the
 * operator's outer (hop) and inner (device) connections on every form, and for the device's own
 * `ssh -R` connections to the relay and to the jumphost. All clients run with OpenSSH defaults.
 */
import type { Scope } from '../../test/helpers/index.js';
import { FORMS, type Form, HOP_FORMS, type World } from './world.js';

export interface Negotiated {
  kex: string;
  hostKey: string;
  /** client→server cipher (and MAC, `<implicit>` for AEAD ciphers). */
  cipher: string;
  mac: string;
}

export interface CipherReport {
  /** Per form: the connections in the order ssh made them (outer hop first, device last). */
  operator: Record<string, Negotiated[]>;
  /** The device's `ssh -N -R` connection to each hop. */
  device: { relay: Negotiated[]; jump: Negotiated[] };
}

/** Parses every handshake in `ssh -v` output, in order. */
export function parseKex(stderr: string): Negotiated[] {
  const out: Negotiated[] = [];
  let kex = '?';
  let hostKey = '?';
  for (const line of stderr.split('\n')) {
    let m = /kex: algorithm: (\S+)/.exec(line);
    if (m) kex = m[1]!;
    m = /kex: host key algorithm: (\S+)/.exec(line);
    if (m) hostKey = m[1]!;
    m = /kex: client->server cipher: (\S+) MAC: (\S+)/.exec(line);
    if (m) out.push({ kex, hostKey, cipher: m[1]!, mac: m[2]! });
  }
  return out;
}

export async function probeCiphers(scope: Scope, world: World): Promise<CipherReport> {
  void scope;
  // ssh passes -v on to a ProxyJump's nested ssh, but not into a ProxyCommand of our own
  // making: the socket recipe gets a verbose twin of its alias for this probe.
  world.op.addHost({
    alias: 'dev-jump-sock-v',
    hostName: null,
    user: 'root',
    hostKeyAlias: 'dev',
    options: { ProxyCommand: `${world.op.command()} -v jump nc -U ${world.sockPath}` },
  });
  const operator: Record<string, Negotiated[]> = {};
  const forms: Form[] = [...HOP_FORMS, 'direct'];
  for (const form of forms) {
    const host = form === 'openssh-sock' ? 'dev-jump-sock-v' : FORMS[form].host;
    const r = await world.op.run(['-v', host, 'true'], { timeoutMs: 30_000 });
    if (r.code !== 0) throw new Error(`cipher probe ${form} failed:\n${r.stderr}`);
    operator[form] = parseKex(r.stderr);
  }
  // The relay refuses `true` (it serves no commands), after the handshake that is reported.
  const relay = await world.deviceSsh.run(['-v', 'relay', 'true'], { timeoutMs: 30_000 });
  const jump = await world.deviceSsh.run(['-v', 'jump', 'true'], { timeoutMs: 30_000 });
  return { operator, device: { relay: parseKex(relay.stderr), jump: parseKex(jump.stderr) } };
}
