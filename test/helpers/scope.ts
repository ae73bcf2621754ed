/**
 * Per-test cleanup. Every helper that starts something (a process, a server, a temp dir) registers
 * its teardown into a Scope; closing the scope runs the teardowns in reverse order. A process-exit
 * hook kills whatever process groups are still alive, as a safety net for a crashed or killed
 * test file.
 */
import type { TestContext } from 'node:test';

export type Cleanup = () => void | Promise<void>;

/** How long one cleanup may take before close() moves on to the next (it is reported, not hung). */
const CLEANUP_TIMEOUT_MS = 15_000;

export class Scope {
  private readonly cleanups: { label: string; fn: Cleanup }[] = [];
  private readonly diagnostics: { label: string; fn: () => string }[] = [];
  private closing: Promise<void> | undefined;

  /** True once close() has been called; deferring after that runs the cleanup at once. */
  get closed(): boolean {
    return this.closing !== undefined;
  }

  /**
   * Registers `fn` to run at close(), after everything registered later (LIFO). A cleanup that
   * throws does not stop the others; close() reports all failures together.
   */
  defer(fn: Cleanup, label = 'cleanup'): void {
    if (this.closing) {
      void Promise.resolve()
        .then(fn)
        .catch(() => {});
      return;
    }
    this.cleanups.push({ label, fn });
  }

  /**
   * Registers a source of diagnostics (e.g. a daemon's stderr) that dump() includes; withScope()
   * prints them when the test body fails.
   */
  diagnose(label: string, fn: () => string): void {
    this.diagnostics.push({ label, fn });
  }

  /** All registered diagnostics as one text block, each under a `--- label ---` header. */
  dump(): string {
    return this.diagnostics
      .map(({ label, fn }) => {
        let text: string;
        try {
          text = fn();
        } catch (err) {
          text = `(diagnostics failed: ${String(err)})`;
        }
        return `--- ${label} ---\n${text.trimEnd()}\n`;
      })
      .join('');
  }

  /**
   * Runs every cleanup once, newest first, each bounded by CLEANUP_TIMEOUT_MS. Idempotent: later
   * calls return the same promise. Rejects with an AggregateError if any cleanup failed.
   */
  close(): Promise<void> {
    this.closing ??= this.runCleanups();
    return this.closing;
  }

  private async runCleanups(): Promise<void> {
    const errors: unknown[] = [];
    for (const { label, fn } of this.cleanups.splice(0).reverse()) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`cleanup '${label}' took over ${CLEANUP_TIMEOUT_MS} ms`)),
          CLEANUP_TIMEOUT_MS,
        );
      });
      try {
        await Promise.race([Promise.resolve().then(fn), timeout]);
      } catch (err) {
        errors.push(err);
      } finally {
        clearTimeout(timer);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'test cleanup failed');
  }
}

/**
 * Runs `body` with a fresh Scope tied to the test `t`: when the body throws, the scope's
 * diagnostics are printed (stderr and t.diagnostic) before the error propagates; the scope is
 * closed when the body settles, and also by t.after() in case the test runner abandons the body
 * (a test timeout).
 */
export async function withScope<T>(t: TestContext, body: (s: Scope) => Promise<T>): Promise<T> {
  const s = new Scope();
  t.after(() => s.close());
  let result: T;
  try {
    result = await body(s);
  } catch (err) {
    const dump = s.dump();
    if (dump) {
      process.stderr.write(`\n=== diagnostics for '${t.name}' ===\n${dump}`);
      t.diagnostic(`diagnostics for '${t.name}' were written to stderr`);
    }
    // The body's error is the one worth reporting; a cleanup failure after it is only logged.
    await s.close().catch((closeErr: unknown) => {
      process.stderr.write(`cleanup after failure of '${t.name}' also failed: ${closeErr}\n`);
    });
    throw err;
  }
  await s.close();
  return result;
}
