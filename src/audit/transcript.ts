import { finished } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

/**
 * The transcript of one audited SSH session: what the remote user typed and what the session
 * printed, with timestamps, so a reviewer can replay it.
 *
 * - `text`: one line per event, `<ISO time> +<seconds since start> <kind> <JSON>`. Kinds are
 *   `start` (object), `in`, `out`, `err` (string), `resize` (`"COLSxROWS"`) and `end`
 *   (`{"code":…,"signal":…}`). The JSON string literals also escape DEL, C1 controls, U+2028/9
 *   and bidi controls, so showing the file on a terminal cannot move the cursor, break a line or
 *   reorder text; `JSON.parse` of the literal still gives back exactly the decoded text.
 * - `asciicast`: asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/), formatted the way
 *   asciinema writes it. Input is `"i"`, stdout and stderr are both `"o"`, resizes are `"r"`; the
 *   exit status is not recorded (v2 has no event for it). Without a pty the header says 80x24.
 *
 * Bytes are decoded as UTF-8 with one streaming decoder per stream, so a character split across
 * chunks appears whole, at the time of the chunk that completes it; invalid bytes become U+FFFD.
 */
export type TranscriptFormat = 'text' | 'asciicast';
export const TRANSCRIPT_FORMATS: readonly TranscriptFormat[] = ['text', 'asciicast'];

export interface SessionInfo {
  readonly user: string;
  readonly fingerprint: string;
  /** "ip:port" */
  readonly client: string;
  /** exec command; undefined = login shell */
  readonly command?: string;
  /** e.g. /bin/bash */
  readonly shell: string;
  readonly pty?: { readonly cols: number; readonly rows: number; readonly term: string };
}

/**
 * Recording methods never throw and are no-ops once the transcript has failed or `close()` was
 * called. `start()` must come first and once; anything else fails the transcript (an audited
 * session must not run with a transcript that cannot be trusted). Events after `end()` are still
 * recorded. Offsets from the start never decrease, even if the clock does. Writes do not wait
 * for the sink (no backpressure): what a slow sink has not taken yet is buffered in memory.
 */
export interface Transcript {
  start(info: SessionInfo): void;
  input(data: Buffer): void;
  output(data: Buffer): void;
  error(data: Buffer): void;
  resize(cols: number, rows: number): void;
  end(result: { readonly code?: number; readonly signal?: string }): void;
  /**
   * Flushes and, for a file, closes. Resolves once everything written is handed to the OS.
   * Idempotent; never rejects (a failure shows in `failed`). process.stdout/stderr are not ended.
   */
  close(): Promise<void>;
  /** The first write failure, if any (the session must then end: an audited server never runs unrecorded). */
  readonly failed: Error | undefined;
}

export interface TranscriptOptions {
  /** Milliseconds since the epoch; default Date.now. */
  readonly now?: () => number;
  /** Called once, asynchronously, with the first failure (a sink write error or misuse). */
  readonly onFailure?: (err: Error) => void;
}

type Stream = 'in' | 'out' | 'err';
type EndResult = { readonly code?: number; readonly signal?: string };

/** Turns events into lines ('\n'-terminated); `at` is ms since epoch, `ms` is ms since start. */
interface Encoder {
  start(info: SessionInfo, at: number): string;
  data(stream: Stream, text: string, at: number, ms: number): string;
  resize(cols: number, rows: number, at: number, ms: number): string;
  end(result: EndResult, at: number, ms: number): string;
}

// DEL, C1 controls, line/paragraph separators, bidi marks/embeddings/overrides/isolates.
const UNSAFE = /[\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/** JSON.stringify, also escaping UNSAFE (which can only occur inside string literals). */
function safeJson(value: unknown): string {
  return JSON.stringify(value).replace(
    UNSAFE,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function textLine(at: number, ms: number, kind: string, json: string): string {
  return `${new Date(at).toISOString()} +${(ms / 1000).toFixed(3)} ${kind} ${json}\n`;
}

const textEncoder: Encoder = {
  start: (info, at) => {
    const record = {
      user: info.user,
      fingerprint: info.fingerprint,
      client: info.client,
      command: info.command ?? null,
      shell: info.shell,
      pty: info.pty ? { cols: info.pty.cols, rows: info.pty.rows, term: info.pty.term } : null,
    };
    return textLine(at, 0, 'start', safeJson(record));
  },
  data: (stream, text, at, ms) => textLine(at, ms, stream, safeJson(text)),
  resize: (cols, rows, at, ms) => textLine(at, ms, 'resize', safeJson(`${cols}x${rows}`)),
  end: (result, at, ms) =>
    textLine(at, ms, 'end', safeJson({ code: result.code ?? null, signal: result.signal ?? null })),
};

/** JSON with asciinema's separators (", " and ": "), as its own files are written. */
function castJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(castJson).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${castJson(v)}`).join(', ')}}`;
  }
  return JSON.stringify(value);
}

const castTime = (ms: number): number => Number((ms / 1000).toFixed(6));

const asciicastEncoder: Encoder = {
  start: (info, at) => {
    const header = {
      version: 2,
      width: info.pty?.cols ?? 80,
      height: info.pty?.rows ?? 24,
      timestamp: Math.floor(at / 1000),
      command: info.command ?? info.shell,
      title: `otssh ${info.user} (${info.fingerprint}) from ${info.client}`,
      env: { SHELL: info.shell, TERM: info.pty?.term },
    };
    return `${castJson(header)}\n`;
  },
  data: (stream, text, _at, ms) =>
    `${castJson([castTime(ms), stream === 'in' ? 'i' : 'o', text])}\n`,
  resize: (cols, rows, _at, ms) => `${castJson([castTime(ms), 'r', `${cols}x${rows}`])}\n`,
  end: () => '',
};

const ENCODERS: Record<TranscriptFormat, Encoder> = {
  text: textEncoder,
  asciicast: asciicastEncoder,
};

export function createTranscript(
  format: TranscriptFormat,
  sink: NodeJS.WritableStream,
  opts: TranscriptOptions = {},
): Transcript {
  const encoder = ENCODERS[format];
  if (!encoder) throw new Error(`unknown transcript format "${String(format)}"`);
  return new StreamTranscript(encoder, sink, opts.now ?? Date.now, opts.onFailure);
}

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

class StreamTranscript implements Transcript {
  readonly #encoder: Encoder;
  readonly #sink: NodeJS.WritableStream;
  readonly #now: () => number;
  readonly #onFailure: ((err: Error) => void) | undefined;
  readonly #decoders: Record<Stream, StringDecoder> = {
    in: new StringDecoder('utf8'),
    out: new StringDecoder('utf8'),
    err: new StringDecoder('utf8'),
  };
  #failed: Error | undefined;
  #closing: Promise<void> | undefined;
  #startedAt: number | undefined;
  #lastMs = 0;

  constructor(
    encoder: Encoder,
    sink: NodeJS.WritableStream,
    now: () => number,
    onFailure: ((err: Error) => void) | undefined,
  ) {
    this.#encoder = encoder;
    this.#sink = sink;
    this.#now = now;
    this.#onFailure = onFailure;
    // Kept for the sink's lifetime: an unhandled 'error' would crash the server.
    sink.on('error', (err: Error) => this.#fail(err));
  }

  get failed(): Error | undefined {
    return this.#failed;
  }

  start(info: SessionInfo): void {
    this.#record(() => {
      if (this.#startedAt !== undefined) throw new Error('transcript: start() called twice');
      const at = this.#now();
      this.#startedAt = at;
      return this.#encoder.start(info, at);
    });
  }

  input(data: Buffer): void {
    this.#data('in', data);
  }

  output(data: Buffer): void {
    this.#data('out', data);
  }

  error(data: Buffer): void {
    this.#data('err', data);
  }

  resize(cols: number, rows: number): void {
    this.#record(() => this.#encoder.resize(cols, rows, ...this.#clock()));
  }

  end(result: EndResult): void {
    this.#record(() => this.#flushDecoders() + this.#encoder.end(result, ...this.#clock()));
  }

  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    if (this.#startedAt !== undefined) this.#record(() => this.#flushDecoders());
    this.#closing = new Promise<void>((resolve) => {
      const done = (err?: Error | null) => {
        if (err) this.#fail(err);
        resolve();
      };
      try {
        if (this.#sink === process.stdout || this.#sink === process.stderr) {
          this.#sink.write('', done);
        } else {
          finished(this.#sink, done);
          this.#sink.end();
        }
      } catch (err) {
        done(asError(err));
      }
    });
    return this.#closing;
  }

  #data(stream: Stream, data: Buffer): void {
    this.#record(() => {
      const [at, ms] = this.#clock();
      const text = this.#decoders[stream].write(data);
      return text === '' ? '' : this.#encoder.data(stream, text, at, ms);
    });
  }

  /** Lines for whatever incomplete characters the decoders still hold (as U+FFFD). */
  #flushDecoders(): string {
    let lines = '';
    for (const stream of ['in', 'out', 'err'] as const) {
      const rest = this.#decoders[stream].end();
      if (rest !== '') lines += this.#encoder.data(stream, rest, ...this.#clock());
    }
    return lines;
  }

  /** [ms since epoch, ms since start], the latter never decreasing. */
  #clock(): [number, number] {
    if (this.#startedAt === undefined) throw new Error('transcript: event before start()');
    const at = this.#now();
    this.#lastMs = Math.max(this.#lastMs, at - this.#startedAt);
    return [at, this.#lastMs];
  }

  #record(lines: () => string): void {
    if (this.#failed || this.#closing) return;
    try {
      const chunk = lines();
      if (chunk !== '') {
        this.#sink.write(chunk, (err?: Error | null) => {
          if (err) this.#fail(err);
        });
      }
    } catch (err) {
      this.#fail(asError(err));
    }
  }

  #fail(err: Error): void {
    if (this.#failed) return;
    this.#failed = err;
    const onFailure = this.#onFailure;
    if (onFailure) queueMicrotask(() => onFailure(err));
  }
}
