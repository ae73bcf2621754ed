import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { AgentSnapshot } from '../agent/index.js';

/**
 * The agent's status file: a JSON snapshot rewritten (atomically: temp file + rename) on every
 * state change, read by `burrow agent status`. A file, not a socket, so a monitoring script or a
 * node_exporter textfile collector can read it too, and a dead agent's last state survives it.
 */
export interface StatusRecord {
  readonly version: 1;
  readonly pid: number;
  readonly name: string;
  readonly relays: readonly string[];
  readonly forwards: readonly string[];
  readonly startedAt: number;
  readonly updatedAt: number;
  readonly state: AgentSnapshot;
  /** Set once the agent has exited: its exit status and message. */
  readonly exit?: { readonly code: number; readonly message: string };
}

export function writeStatus(path: string, record: StatusRecord): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

export type StatusRead =
  | { readonly ok: true; readonly record: StatusRecord }
  | { readonly ok: false; readonly message: string };

export function readStatus(path: string): StatusRead {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return {
      ok: false,
      message:
        code === 'ENOENT'
          ? `no agent status at ${path} (has this agent ever run with this data dir?)`
          : `cannot read ${path}: ${code ?? (err as Error).message}`,
    };
  }
  try {
    const record = JSON.parse(text) as StatusRecord;
    if (record.version !== 1 || typeof record.pid !== 'number' || !record.state) {
      return { ok: false, message: `${path} is not a burrow agent status file` };
    }
    return { ok: true, record };
  } catch {
    return { ok: false, message: `${path} is not a burrow agent status file` };
  }
}

/** Exit status of `burrow agent status`, as systemctl does: 0 serving, 1 not yet, 3 not running. */
export function statusExitCode(record: StatusRecord, alive: boolean): number {
  if (!alive || record.exit) return 3;
  return record.state.phase === 'connected' || record.state.phase === 'moving' ? 0 : 1;
}

/** Human-readable report; `now` and `alive` are passed in so this stays pure. */
export function formatStatus(record: StatusRecord, alive: boolean, now: number): string {
  const s = record.state;
  const lines: string[] = [];
  const running = alive && !record.exit;
  const state = running
    ? s.phase === 'connected' && s.draining
      ? 'connected (relay draining, no other relay to move to)'
      : s.phase
    : 'not running';
  lines.push(`agent ${record.name}: ${state}`);
  if (running) lines.push(`  pid:        ${record.pid}, up ${ago(now - record.startedAt)}`);
  if (record.exit) lines.push(`  exited:     status ${record.exit.code}: ${record.exit.message}`);
  else if (!alive) lines.push(`  last seen:  ${iso(record.updatedAt)} (pid ${record.pid} is gone)`);
  if (running && s.relay && s.since !== undefined) {
    lines.push(`  relay:      ${s.relay} since ${iso(s.since)} (${ago(now - s.since)})`);
  }
  if (running && s.trying) lines.push(`  trying:     ${s.trying}`);
  lines.push(`  relays:     ${record.relays.join(', ')}`);
  lines.push(`  forwards:   ${record.forwards.join(', ')}`);
  lines.push(`  reconnects: ${s.reconnects}`);
  if (s.lastError) {
    lines.push(
      `  last error: ${s.lastError.message} (${iso(s.lastError.at)}, ${ago(now - s.lastError.at)} ago)`,
    );
  } else {
    lines.push('  last error: none');
  }
  return `${lines.join('\n')}\n`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

/** True if a process with this pid exists (signal 0 probes without sending anything). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
