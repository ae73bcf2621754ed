/**
 * The coordinator's status page in a real headless Chromium: a real redis-server, three
 * `burrow relay --registry redis://…` processes, a device registered by plain `ssh -N -R` (then
 * moved to another relay by the same key), and the real `burrow coordinator` CLI behind a token.
 * The page loads with no console error, shows the relays and a searched name (where, since
 * when), updates by its own refresh when a relay is killed, fits a phone's width, renders
 * hostile registry values as text, and says when Redis is down. A screenshot is saved in a temp dir; with
 * BURROW_STATUS_PAGE_PNG=FILE it is also written to FILE (how docs/status-page.png is made).
 */
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  REGISTRY_NAME_KEY,
  REGISTRY_RELAY_KEY,
  REGISTRY_RELAYS_INDEX,
} from '../src/core/constants.js';
import { launchBrowser, watchPage } from './helpers/browser.js';
import { clientForRelays, registerInRedis, startRegistryRelay } from './helpers/cluster.js';
import { startCoordinatorCli } from './helpers/coordinator.js';
import { generateKey, tmpDir, waitFor, withScope } from './helpers/index.js';
import { startRedis } from './helpers/redis.js';

const TOKEN = 'status-page-token-8f3e1c';
const HOSTILE = `<img src=x onerror="alert('xss')"><script>alert(1)</script>`;

describe('the status page in headless Chromium', () => {
  it('shows relays, a searched name and events, and follows a relay that dies', async (t) =>
    withScope(t, async (s) => {
      const redis = await startRedis(s);
      const dir = await tmpDir(s);
      const dev = await generateKey(dir, 'device');
      writeFileSync(join(dir, 'authorized_keys'), `permitlisten="dev1:22" ${dev.publicKey}\n`);
      const tokenFile = join(dir, 'api-token');
      writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });

      // The coordinator first, so that it sees the relays join.
      const { proc: coord, url: base } = await startCoordinatorCli(s, redis, {
        flags: ['--api-token-file', tokenFile],
      });
      const A = await startRegistryRelay(s, dir, 'a', redis);
      const B = await startRegistryRelay(s, dir, 'b', redis);
      const C = await startRegistryRelay(s, dir, 'c', redis);
      const ssh = await clientForRelays(s, dev, { A, C });
      // dev1 registers on C, then the same key takes it to A: a name that moved.
      await registerInRedis(ssh, C, 'C', 'dev1', redis);
      await registerInRedis(ssh, A, 'A', 'dev1', redis);
      const since = Number(redis.cli('HGET', `${REGISTRY_NAME_KEY}dev1`, 'since'));
      assert.ok(since > 0, 'the registry has a since for dev1');

      // Without the token (or with a wrong one) the page is refused with a Basic challenge.
      for (const auth of [undefined, `Basic ${Buffer.from('ops:wrong').toString('base64')}`]) {
        const res = await fetch(`${base}/`, { headers: auth ? { authorization: auth } : {} });
        assert.equal(res.status, 401);
        assert.match(res.headers.get('www-authenticate') ?? '', /^Basic realm=/);
        assert.doesNotMatch(await res.text(), /dev1|relay-/);
      }

      const browser = await launchBrowser(s);
      const context = await browser.newContext({
        httpCredentials: { username: 'ops', password: TOKEN },
        viewport: { width: 1000, height: 900 },
      });
      const page = await context.newPage();
      const watch = watchPage(page);
      const res = await page.goto(`${base}/`);
      assert.equal(res?.status(), 200);
      const headers = res?.headers() ?? {};
      assert.match(headers['content-security-policy'] ?? '', /default-src 'none'/);
      assert.match(headers['content-type'] ?? '', /^text\/html/);

      // Every relay, up, by address.
      const cards = page.locator('.card.relay');
      assert.equal(await cards.count(), 3);
      for (const r of [A, B, C]) {
        const card = page.locator(`.card.relay[data-relay="${r.id}"]`);
        assert.equal(await card.getAttribute('data-state'), 'up');
        assert.match(await card.innerText(), new RegExp(`127\\.0\\.0\\.1:${r.port}`));
      }
      assert.equal(await page.locator('#count-up').innerText(), '3');
      assert.equal(await page.locator('#registry').innerText(), 'reachable');

      // The search box, as a user uses it: where dev1 is, and since when.
      await page.getByRole('searchbox').fill('dev1');
      await Promise.all([page.waitForURL(/\/\?q=dev1$/), page.getByRole('button').click()]);
      const found = await page.locator('#found').innerText();
      assert.match(found, new RegExp(`dev1 is on 127\\.0\\.0\\.1:${A.port} \\(${A.id}\\)`));
      assert.ok(found.includes(`since ${new Date(since).toISOString()}`), found);
      await page.goto(`${base}/?q=nosuch`);
      assert.match(await page.locator('#missing').innerText(), /nosuch is not registered/);
      await page.goto(`${base}/?q=dev1`);

      // Events: the three relays joined, dev1 moved from C to A (the page refreshes itself).
      const events = page.locator('#events li');
      // textContent, not innerText: the kind is shown upper-cased by CSS.
      const eventText = async () =>
        (await events.allTextContents()).map((l) => l.replace(/\s+/g, ' ')).join('\n');
      await waitFor(
        async () => {
          const text = await eventText();
          const ok =
            [A, B, C].every((r) => text.includes(`joined ${r.id}`)) && /dev1 moved/.test(text);
          if (!ok) throw new Error(`events so far:\n${text}`);
          return ok;
        },
        { what: 'joined and moved events on the page', timeoutMs: 20_000 },
      );
      assert.ok((await eventText()).includes(`name dev1 moved from ${C.id} to ${A.id}`));

      // C dies: without any reload from here, the page shows it lost (or gone) with an event.
      const loadsBefore = watch.loads();
      await C.proc.kill9();
      await waitFor(
        async () => {
          const card = page.locator(`.card.relay[data-relay="${C.id}"]`);
          // The card may go between the count and the read: a short read, then the next try.
          const state =
            (await card.count()) === 0
              ? 'gone'
              : await card.getAttribute('data-state', { timeout: 1000 });
          const text = await eventText();
          return (
            (state === 'lost' || state === 'gone') &&
            (text.includes(`lost ${C.id}`) || text.includes(`gone ${C.id}`))
          );
        },
        { what: 'relay C shown lost or gone, with an event', timeoutMs: 30_000, intervalMs: 250 },
      );
      assert.ok(watch.loads() > loadsBefore, 'the page reloaded by itself');
      assert.equal(
        await page.locator(`.card.relay[data-relay="${A.id}"]`).getAttribute('data-state'),
        'up',
      );
      assert.match(await page.locator('#found').innerText(), /dev1 is on/);

      const shot = join(await tmpDir(s), 'status-page.png');
      await page.screenshot({ path: shot, fullPage: true });
      const keep = process.env.BURROW_STATUS_PAGE_PNG;
      if (keep) copyFileSync(shot, keep);

      // A phone: nothing wider than the screen.
      const phone = await browser.newContext({
        httpCredentials: { username: 'ops', password: TOKEN },
        viewport: { width: 390, height: 844 },
        isMobile: true,
      });
      const small = await phone.newPage();
      const smallWatch = watchPage(small);
      await small.goto(`${base}/?q=dev1`);
      // Evaluated in the page (this file is compiled without DOM types).
      const width = Number(await small.evaluate('document.documentElement.scrollWidth'));
      assert.ok(width <= 390, `page is ${width} px wide on a 390 px screen`);

      // Hostile values in the registry (anyone who can write Redis chooses them) stay text.
      const key = `${REGISTRY_RELAY_KEY}${HOSTILE}`;
      redis.cli(
        'HSET',
        key,
        ...['relayId', HOSTILE, 'address', HOSTILE, 'names', '4', 'connections', '4'],
        ...['capacity', '10', 'draining', '0', 'version', HOSTILE, 'startedAt', String(Date.now())],
      );
      redis.cli('PEXPIRE', key, '60000');
      redis.cli('ZADD', REGISTRY_RELAYS_INDEX, '1', HOSTILE);
      await page.goto(`${base}/?q=${encodeURIComponent(HOSTILE)}`);
      const hostile = page.locator('.card.relay').filter({ hasText: 'onerror' });
      assert.equal(await hostile.count(), 1);
      assert.ok((await hostile.innerText()).includes(HOSTILE));
      const meter = hostile.locator('meter');
      assert.deepEqual(
        [await meter.getAttribute('value'), await meter.getAttribute('max')],
        ['4', '10'],
      );
      assert.equal(await page.locator('script, img').count(), 0, 'no injected element');
      assert.equal(await page.getByRole('searchbox').inputValue(), HOSTILE);
      assert.match(await page.locator('#invalid').innerText(), /Not a name/);

      // Redis down: the page still renders, and says so at its next refresh.
      await redis.stop();
      await waitFor(async () => (await page.locator('#registry').innerText()) === 'unreachable', {
        what: 'the page to show the registry unreachable',
        timeoutMs: 20_000,
        intervalMs: 250,
      });
      await redis.restart();

      assert.deepEqual(watch.problems, [], 'no console error, failed request or dialog');
      assert.deepEqual(smallWatch.problems, []);
      assert.equal(coord.exit, undefined, 'the coordinator is still running');
    }));
});
