import { type FSWatcher, readFileSync, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';
import type { AuditSink } from '../audit/audit.js';
import { configError } from '../core/errors.js';
import { PolicySet } from '../core/policy-set.js';

/**
 * The authorized_keys file as a live policy. `current()` is always a complete snapshot: a reload
 * that cannot read the file keeps the previous snapshot, and bad lines are reported (file:line)
 * and skipped while the rest loads. Reloads on `reload()` (wired to SIGHUP) and when the file
 * changes, including editors that replace it by rename.
 */
export class PolicyFile {
  readonly path: string;
  readonly #log: Logger;
  readonly #audit: AuditSink;
  #set: PolicySet;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastText: string | undefined;
  readonly #listeners = new Set<() => void>();

  constructor(path: string, log: Logger, audit: AuditSink) {
    this.path = path;
    this.#log = log.child({ component: 'policy', file: path });
    this.#audit = audit;
    const text = this.#read();
    if (text === undefined) throw configError(`--authorized-keys: cannot read ${path}`);
    this.#set = this.#load(text);
  }

  current = (): PolicySet => this.#set;

  /** Calls `listener` after each reload that swapped in a new snapshot; returns the unsubscribe. */
  onChange = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  /** Re-reads the file now. Returns false (keeping the old policy) if it cannot be read. */
  reload(): boolean {
    const text = this.#read();
    if (text === undefined) return false;
    if (text === this.#lastText) return true;
    this.#set = this.#load(text);
    for (const listener of [...this.#listeners]) listener();
    return true;
  }

  watch(): void {
    if (this.#watcher) return;
    const name = basename(this.path);
    try {
      this.#watcher = watch(dirname(this.path), { persistent: false }, (_event, file) => {
        if (file !== null && file !== name) return;
        clearTimeout(this.#timer);
        this.#timer = setTimeout(() => this.reload(), 100);
      });
      this.#watcher.on('error', (err) =>
        this.#log.warn({ err }, 'cannot watch policy file; SIGHUP still reloads'),
      );
    } catch (err) {
      this.#log.warn({ err }, 'cannot watch policy file; SIGHUP still reloads');
    }
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  #read(): string | undefined {
    try {
      return readFileSync(this.path, 'utf8');
    } catch (err) {
      this.#log.error(
        { err: (err as Error).message },
        'cannot read policy file; keeping the current policy',
      );
      return undefined;
    }
  }

  #load(text: string): PolicySet {
    this.#lastText = text;
    const { set, errors } = PolicySet.parse(text, this.path);
    for (const e of errors) this.#log.warn({ line: e.line }, e.message);
    if (set.size === 0) {
      this.#log.warn('no usable keys: every connection will be refused until keys are added');
    }
    this.#audit.record({
      event: 'policy.loaded',
      file: this.path,
      keys: set.size,
      errors: errors.length,
    });
    return set;
  }
}
