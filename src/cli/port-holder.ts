import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { endianness } from 'node:os';
import { BurrowError } from '../core/errors.js';
import { escapeText } from './log-format.js';

/**
 * Which process holds a TCP port, for the "address in use" line (Linux only; elsewhere, or when
 * /proc does not say, nothing is claimed). The kernel lists sockets in /proc/net/tcp and tcp6:
 *
 *   sl  local_address rem_address   st tx_queue:rx_queue tr:tm->when retrnsmt  uid timeout inode
 *    0: 0100007F:08AE 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0   0       41877 …
 *
 * local_address is the address as 32-bit words printed in host byte order, then the port in hex;
 * st 0A is LISTEN. A process holds the socket when one of /proc/PID/fd/* links to socket:[inode].
 */

export interface ProcNetSocket {
  readonly address: string;
  readonly port: number;
  readonly listening: boolean;
  readonly inode: number;
}

const LISTEN = '0A';

/** Every well-formed socket line of a /proc/net/tcp or tcp6 text; other lines are skipped. */
export function parseProcNetTcp(
  text: string,
  byteOrder: 'LE' | 'BE' = endianness(),
): ProcNetSocket[] {
  const sockets: ProcNetSocket[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !/^\d+:$/.test(f[0] ?? '')) continue;
    const m = /^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})$/.exec(f[1] ?? '');
    const inode = Number(f[9]);
    if (!m || !/^[0-9A-Fa-f]{2}$/.test(f[3] ?? '') || !Number.isSafeInteger(inode)) continue;
    sockets.push({
      address: decodeAddress(m[1] ?? '', byteOrder),
      port: Number.parseInt(m[2] ?? '', 16),
      listening: (f[3] ?? '').toUpperCase() === LISTEN,
      inode,
    });
  }
  return sockets;
}

function decodeAddress(hex: string, byteOrder: 'LE' | 'BE'): string {
  const bytes: number[] = [];
  for (let w = 0; w < hex.length; w += 8) {
    const word = Buffer.from(hex.slice(w, w + 8), 'hex');
    bytes.push(...(byteOrder === 'LE' ? word.reverse() : word));
  }
  if (bytes.length === 4) return bytes.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  // The longest run of two or more zero groups becomes "::", as RFC 5952 writes it.
  let best = { at: -1, len: 1 };
  for (let i = 0; i < 8; i++) {
    let len = 0;
    while (i + len < 8 && groups[i + len] === '0') len++;
    if (len > best.len) best = { at: i, len };
  }
  if (best.at < 0) return groups.join(':');
  const head = groups.slice(0, best.at).join(':');
  const tail = groups.slice(best.at + best.len).join(':');
  return `${head}::${tail}`;
}

/** Inodes of the sockets listening on `port`, any address. */
export function listeningInodes(sockets: readonly ProcNetSocket[], port: number): Set<number> {
  return new Set(sockets.filter((s) => s.listening && s.port === port).map((s) => s.inode));
}

export interface PortHolder {
  readonly pid: number;
  /** Its command line, arguments joined by spaces. */
  readonly command: string;
}

/**
 * The process listening on TCP `port`, found through /proc; undefined when /proc is missing, the
 * socket is not listed, or the holder's fds cannot be read (another user's process).
 */
export function findPortHolder(port: number, procRoot = '/proc'): PortHolder | undefined {
  const inodes = new Set<number>();
  for (const table of ['net/tcp', 'net/tcp6']) {
    const text = readOrEmpty(`${procRoot}/${table}`);
    for (const inode of listeningInodes(parseProcNetTcp(text), port)) inodes.add(inode);
  }
  inodes.delete(0);
  if (inodes.size === 0) return undefined;
  const links = new Set([...inodes].map((i) => `socket:[${i}]`));
  for (const entry of listOrEmpty(procRoot)) {
    if (!/^\d+$/.test(entry)) continue;
    const fdDir = `${procRoot}/${entry}/fd`;
    const holds = listOrEmpty(fdDir).some((fd) => links.has(linkOrEmpty(`${fdDir}/${fd}`)));
    if (!holds) continue;
    const argv = readOrEmpty(`${procRoot}/${entry}/cmdline`).split('\0').filter(Boolean);
    return { pid: Number(entry), command: argv.join(' ') };
  }
  return undefined;
}

/**
 * The refusal for a listen that found its port taken: `${what}: address in use`, then which
 * process holds `port` when /proc says (`what` names the listener, e.g. `--http: cannot listen on
 * 127.0.0.1:8080`).
 */
export function addressInUse(what: string, port: number, cause: Error): BurrowError {
  const holder = findPortHolder(port);
  const by = holder ? ` (${describeHolder(holder)})` : '';
  return new BurrowError('REFUSED', `${what}: address in use${by}`, { cause });
}

/** `by pid 4242: node /usr/bin/burrow relay …`, on one line, cut to about 100 characters. */
export function describeHolder(holder: PortHolder): string {
  const command = holder.command.length > 100 ? `${holder.command.slice(0, 99)}…` : holder.command;
  return `by pid ${holder.pid}${command ? `: ${escapeText(command)}` : ''}`;
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return ''; // not Linux, or not ours to read: the holder stays unknown
  }
}

function listOrEmpty(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

function linkOrEmpty(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '';
  }
}
