/**
 * The response side of a minimal HTTP/1.1 keep-alive client, for the placement generator: a
 * closed loop over node:net costs a fraction of node:http's client per request, so the generator
 * takes less of the cores the coordinator is measured on. Pure: bytes in, responses out.
 *
 * Contract of `ResponseReader`:
 * - `feed(chunk)` returns the responses completed by `chunk`, in order, each with its status and
 *   its whole body; a response split at any byte, or several in one chunk, read the same.
 * - Only what the coordinator sends is accepted: a status line `HTTP/1.x NNN …` and a
 *   `Content-Length` header. A response without one (chunked, or read to close), a head longer
 *   than `MAX_HEAD` or a body longer than `MAX_BODY` throws `Http1Error`; the reader is then
 *   unusable and the caller drops the connection.
 */

/** Longest status line and headers accepted. */
export const MAX_HEAD = 8 * 1024;
/** Longest body accepted (a placement answer is a few hundred bytes). */
export const MAX_BODY = 1024 * 1024;

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const STATUS_RE = /^HTTP\/1\.[01] (\d{3})(?: |\r\n)/;
const LENGTH_RE = /\r\ncontent-length:[ \t]*(\d{1,9})[ \t]*\r\n/i;

export class Http1Error extends Error {}

export interface Response {
  readonly status: number;
  readonly body: Buffer;
}

export class ResponseReader {
  #buf: Buffer = Buffer.alloc(0);
  /** Status and body length of the response whose head has been read, if any. */
  #head: { status: number; bodyAt: number; length: number } | undefined;

  feed(chunk: Buffer): Response[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const out: Response[] = [];
    for (;;) {
      if (!this.#head) {
        const end = this.#buf.indexOf(HEAD_END);
        if (end < 0) {
          if (this.#buf.length > MAX_HEAD) throw new Http1Error('response head too long');
          return out;
        }
        if (end > MAX_HEAD) throw new Http1Error('response head too long');
        // Keep the last CRLF so every header line, the last one too, ends in "\r\n".
        const head = this.#buf.toString('latin1', 0, end + 2);
        const status = STATUS_RE.exec(head);
        if (!status) throw new Http1Error(`not an HTTP/1.x status line: ${head.slice(0, 40)}`);
        const length = LENGTH_RE.exec(head);
        if (!length) throw new Http1Error('response without Content-Length');
        const n = Number(length[1]);
        if (n > MAX_BODY) throw new Http1Error(`response body of ${n} bytes`);
        this.#head = { status: Number(status[1]), bodyAt: end + 4, length: n };
      }
      const { status, bodyAt, length } = this.#head;
      if (this.#buf.length < bodyAt + length) return out;
      out.push({ status, body: this.#buf.subarray(bodyAt, bodyAt + length) });
      this.#buf = this.#buf.subarray(bodyAt + length);
      this.#head = undefined;
    }
  }
}
