/**
 * A real headless Chromium (Debian's `/usr/bin/chromium`, driven by playwright-core), closed by
 * the Scope. As root it runs with --no-sandbox (Chromium refuses to start sandboxed as root).
 * `watchPage` records what a user would see go wrong: console errors, uncaught exceptions, failed
 * requests and dialogs (an `alert` would mean injected script ran).
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';
import type { Scope } from './scope.js';

export const CHROMIUM = process.env.BURROW_TEST_CHROMIUM ?? '/usr/bin/chromium';

export async function launchBrowser(scope: Scope): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install chromium)`);
  }
  const root = process.getuid?.() === 0;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: root ? ['--no-sandbox'] : [],
  });
  scope.defer(() => browser.close(), 'chromium');
  return browser;
}

export interface PageWatch {
  /** Console errors, page errors, failed requests and dialogs, one line each. */
  readonly problems: string[];
  /** Documents loaded in the main frame so far (first load included). */
  loads(): number;
}

export function watchPage(page: Page): PageWatch {
  const problems: string[] = [];
  let loads = 0;
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning')
      problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    // A reload started by the page's own refresh may cancel the previous one: not a failure.
    if (r.failure()?.errorText !== 'net::ERR_ABORTED') problems.push(`request failed: ${r.url()}`);
  });
  page.on('dialog', (d) => {
    problems.push(`dialog ${d.type()}: ${d.message()}`);
    void d.dismiss();
  });
  page.on('load', () => loads++);
  return { problems, loads: () => loads };
}
