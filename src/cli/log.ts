import { createWriteStream, openSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { type DestinationStream, type Logger, pino } from 'pino';
import { type AuditEvent, type AuditSink, JsonLinesAudit } from '../audit/index.js';
import { configError } from '../core/errors.js';
import { formatAuditEvent, formatLogRecord, type LogFormat } from './log-format.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

/** The format asked for with --log-format, else text on a terminal and JSON lines elsewhere. */
export function resolveLogFormat(
  format: LogFormat | undefined,
  stream: { isTTY?: boolean },
): LogFormat {
  return format ?? (stream.isTTY ? 'text' : 'json');
}

function fdOf(stream: NodeJS.WriteStream, fallback: number): number {
  return (stream as { fd?: number }).fd ?? fallback;
}

/**
 * The operational log on stderr: JSON lines, or one readable line per record (log-format.ts).
 * Redaction is a second line of defence; no code path passes key material to the logger in the
 * first place.
 */
export function createLogger(
  level: LogLevel,
  format?: LogFormat,
  stream: NodeJS.WriteStream = process.stderr,
): Logger {
  const options = {
    level,
    base: { pid: process.pid },
    redact: {
      paths: ['privateKey', '*.privateKey', 'secret', '*.secret', 'signature'],
      censor: '[redacted]',
    },
  };
  const out = pino.destination({ fd: fdOf(stream, 2), sync: true });
  if (resolveLogFormat(format, stream) === 'text') {
    // pino hands over each record as one JSON line, synchronously.
    const text: DestinationStream = {
      write: (line: string) => {
        out.write(formatLogRecord(JSON.parse(line) as Record<string, unknown>));
      },
    };
    return pino(options, text);
  }
  return pino(options, out);
}

/** Audit events as one readable line each (log-format.ts), for a terminal. */
class TextAudit implements AuditSink {
  readonly #out: DestinationStream;
  constructor(fd: number) {
    this.#out = pino.destination({ fd, sync: true });
  }
  record(event: AuditEvent): void {
    this.#out.write(formatAuditEvent(new Date(), event));
  }
}

export interface AuditOutput {
  readonly audit: AuditSink;
  /** Flushes and closes the file (a no-op for stdout). */
  close(): Promise<void>;
}

/**
 * `-` is stdout (in `format`, by default text on a terminal, JSON lines elsewhere); anything else
 * is a file opened for appending (created 0600), always JSON lines.
 */
export function openAudit(target: string, format?: LogFormat): AuditOutput {
  if (!target) throw configError('--audit-log: expected a file path or "-"');
  if (target === '-') {
    const audit =
      resolveLogFormat(format, process.stdout) === 'text'
        ? new TextAudit(fdOf(process.stdout, 1))
        : new JsonLinesAudit(process.stdout);
    return { audit, close: async () => {} };
  }
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
