import { createWriteStream, openSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { type Logger, pino } from 'pino';
import pretty from 'pino-pretty';
import { type AuditSink, JsonLinesAudit } from '../audit/audit.js';
import { configError } from '../core/errors.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

/**
 * The operational log: JSON lines on stderr, human-readable when stderr is a terminal. Redaction
 * is a second line of defence; no code path passes key material to the logger in the first place.
 */
export function createLogger(level: LogLevel, stream: NodeJS.WriteStream = process.stderr): Logger {
  const options = {
    level,
    base: { pid: process.pid },
    redact: {
      paths: ['privateKey', '*.privateKey', 'secret', '*.secret', 'signature'],
      censor: '[redacted]',
    },
  };
  if (stream.isTTY) {
    return pino(
      options,
      pretty({ destination: stream, colorize: true, sync: true, ignore: 'pid,hostname' }),
    );
  }
  return pino(options, pino.destination({ fd: (stream as { fd?: number }).fd ?? 2, sync: true }));
}

export interface AuditOutput {
  readonly audit: AuditSink;
  /** Flushes and closes the file (a no-op for stdout). */
  close(): Promise<void>;
}

/** `-` is stdout; anything else is a file opened for appending (created 0600). */
export function openAudit(target: string): AuditOutput {
  if (!target) throw configError('--audit-log: expected a file path or "-"');
  if (target === '-') return { audit: new JsonLinesAudit(process.stdout), close: async () => {} };
  // Opened now, synchronously: a relay must not start serving with an audit trail it cannot write.
  let fd: number;
  try {
    fd = openSync(target, 'a', 0o600);
  } catch (err) {
    throw configError(
      `--audit-log: cannot open ${target}: ${(err as NodeJS.ErrnoException).code ?? err}`,
      err,
    );
  }
  const stream: Writable = createWriteStream(target, { fd, flags: 'a' });
  stream.on('error', (err) => {
    process.stderr.write(`burrow: cannot write audit log ${target}: ${err.message}\n`);
  });
  return {
    audit: new JsonLinesAudit(stream),
    close: () => new Promise((resolve) => stream.end(resolve)),
  };
}
