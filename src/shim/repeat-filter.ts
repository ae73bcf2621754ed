/**
 * ssh's own stderr across the attempts of one session (pure: no streams or timers). While the
 * shim retries a connection, every attempt tends to fail the same way, and printing ssh's
 * `Could not resolve hostname …` or `Connection refused` once per attempt buries the one line
 * that matters. This passes each line through unless an earlier attempt since the last
 * successful connection printed the very same line; lines repeated within one attempt all pass,
 * so a working connection's messages are never thinned out.
 */

/** At most this many distinct lines are remembered; later new lines simply always pass. */
const MAX_REMEMBERED = 256;
/** An unfinished line longer than this is printed as it is, unfiltered: nothing piles up. */
const MAX_LINE = 64 * 1024;

export class RepeatFilter {
  /** Lines printed by earlier attempts since the last reset. */
  readonly #before = new Set<string>();
  /** Lines printed by the current attempt. */
  readonly #now = new Set<string>();
  /** The current attempt's unfinished last line. */
  #partial: Buffer = Buffer.alloc(0);

  /** Bytes of ssh's stderr: returns what to print now (whole lines only). */
  push(chunk: Buffer): Buffer {
    const data = this.#partial.length > 0 ? Buffer.concat([this.#partial, chunk]) : chunk;
    const out: Buffer[] = [];
    let start = 0;
    for (let nl = data.indexOf(10); nl >= 0; nl = data.indexOf(10, start)) {
      const line = data.subarray(start, nl + 1);
      if (this.#pass(line)) out.push(line);
      start = nl + 1;
    }
    const rest = data.subarray(start);
    if (rest.length > MAX_LINE) {
      out.push(rest);
      this.#partial = Buffer.alloc(0);
    } else {
      this.#partial = Buffer.from(rest);
    }
    return Buffer.concat(out);
  }

  /** The attempt is over (ssh exited): returns its unfinished last line, if it is to be printed. */
  endAttempt(): Buffer {
    const rest = this.#partial;
    this.#partial = Buffer.alloc(0);
    const out = rest.length > 0 && this.#pass(rest) ? rest : Buffer.alloc(0);
    for (const line of this.#now) this.#remember(line);
    this.#now.clear();
    return out;
  }

  /** A connection succeeded: from now on, lines from before it no longer count as repeats. */
  reset(): void {
    this.#before.clear();
  }

  #pass(line: Buffer): boolean {
    const key = line.toString('latin1').replace(/\r?\n$/, '');
    if (this.#before.has(key)) return false;
    if (this.#now.size < MAX_REMEMBERED) this.#now.add(key);
    return true;
  }

  #remember(key: string): void {
    if (this.#before.size < MAX_REMEMBERED) this.#before.add(key);
  }
}
