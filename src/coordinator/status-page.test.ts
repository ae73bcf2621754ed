import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { formatAge, type PageView, renderStatusPage, STATUS_PAGE_CSP } from './status-page.js';

const NOW = Date.parse('2026-01-02T03:04:05Z');
const EVIL = `<script>alert(1)</script>"'&`;

function view(over: Partial<PageView> = {}): PageView {
  return {
    now: NOW,
    version: '1.2.3',
    refreshS: 5,
    registry: { reachable: true, latencyMs: 2 },
    relays: [
      {
        id: 'relay-a#1',
        address: '10.0.0.1:2222',
        state: 'up',
        devices: 30,
        names: 31,
        capacity: 100,
        heartbeatAgeMs: 1200,
        version: '1.2.3',
      },
      {
        id: 'relay-b#2',
        address: '10.0.0.2:2222',
        state: 'lost',
        devices: 7,
        names: 7,
        capacity: 0,
        heartbeatAgeMs: 12_000,
        version: '1.2.3',
      },
    ],
    events: [{ at: NOW - 5000, kind: 'lost', relayId: 'relay-b#2', address: '10.0.0.2:2222' }],
    ...over,
  };
}

describe('renderStatusPage', () => {
  it('shows counts, each relay with its load, and the events', () => {
    const page = renderStatusPage(view());
    assert.match(page, /<meta name="viewport" content="width=device-width, initial-scale=1">/);
    assert.match(page, /<meta http-equiv="refresh" content="5">/);
    assert.match(page, /id="count-up">1</);
    assert.match(page, /id="count-lost">1</);
    assert.match(page, /id="devices">37</);
    assert.match(page, /id="names">38</);
    assert.match(page, /<meter min="0" max="100" value="30"[^>]*>30 of 100<\/meter>/);
    assert.match(page, /7 devices <span class="mute">\(no capacity declared\)/);
    assert.match(page, /data-relay="relay-b#2" data-state="lost"/);
    assert.match(
      page,
      /<li data-kind="lost"><time datetime="2026-01-02T03:04:00.000Z"[^>]*>5 s ago/,
    );
  });

  it('escapes everything the registry and the search box supply', () => {
    const page = renderStatusPage(
      view({
        relays: [{ ...view().relays[0]!, id: EVIL, address: EVIL, version: EVIL }],
        events: [
          { at: NOW, kind: 'moved', name: EVIL, from: EVIL, to: EVIL },
          { at: NOW, kind: 'joined', relayId: EVIL, address: EVIL },
        ],
        search: { query: EVIL, result: { kind: 'invalid', query: EVIL, reason: EVIL } },
      }),
    );
    assert.doesNotMatch(page, /<script/i);
    assert.doesNotMatch(page, /"'&</);
    assert.ok(page.includes('&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;'));
  });

  it('says where a searched name is and since when', () => {
    const page = renderStatusPage(
      view({
        search: {
          query: 'Dev1',
          result: {
            kind: 'found',
            name: 'dev1',
            relayId: 'relay-a#1',
            address: '10.0.0.1:2222',
            ports: [22, 80],
            owner: 'SHA256:abc',
            since: NOW - 3_600_000,
          },
        },
      }),
    );
    assert.match(page, /value="Dev1"/);
    assert.match(
      page,
      /<b>dev1<\/b> is on <b>10\.0\.0\.1:2222<\/b>\s*<span class="mute">\(relay-a#1\)<\/span>, ports 22, 80,\s*since 2026-01-02T02:04:05\.000Z \(60 min ago\)/,
    );
    assert.match(page, /owner SHA256:abc/);
  });

  const others: [string, PageView['search'], RegExp][] = [
    [
      'not registered',
      { query: 'x', result: { kind: 'missing', name: 'x' } },
      /<b>x<\/b> is not registered/,
    ],
    [
      'unreachable',
      { query: 'x', result: { kind: 'unavailable', name: 'x' } },
      /Cannot look up <b>x<\/b>: the registry is unreachable/,
    ],
    [
      'not a name',
      {
        query: '1.2.3.4',
        result: { kind: 'invalid', query: '1.2.3.4', reason: 'an address is not a name' },
      },
      /Not a name: an address is not a name\./,
    ],
  ];
  for (const [what, search, re] of others) {
    it(`search: ${what}`, () => assert.match(renderStatusPage(view({ search })), re));
  }

  it('an unreachable registry and an empty fleet are said so', () => {
    const page = renderStatusPage(view({ registry: { reachable: false }, relays: [], events: [] }));
    assert.match(page, /id="registry">unreachable</);
    assert.match(page, /No relay is registered/);
    assert.match(page, /No event since this coordinator started/);
  });

  it('draws at most 500 relays and says how many more there are', () => {
    const one = view().relays[0]!;
    const relays = Array.from({ length: 600 }, (_, i) => ({ ...one, id: `r${i}` }));
    const page = renderStatusPage(view({ relays }));
    assert.equal(page.match(/class="card relay"/g)?.length, 500);
    assert.match(page, /and 100 more relays not shown/);
    assert.match(page, /id="count-up">600</);
  });

  it('the CSP allows exactly the inline stylesheet, and no script', () => {
    const page = renderStatusPage(view());
    const css = /<style>([\s\S]*?)<\/style>/.exec(page)?.[1] ?? '';
    const hash = createHash('sha256').update(css).digest('base64');
    assert.ok(STATUS_PAGE_CSP.includes(`style-src 'sha256-${hash}'`), STATUS_PAGE_CSP);
    assert.match(STATUS_PAGE_CSP, /default-src 'none'/);
    assert.doesNotMatch(STATUS_PAGE_CSP, /script-src|unsafe/);
    assert.doesNotMatch(page, /<script|https?:\/\//);
  });
});

describe('formatAge', () => {
  const cases: [number, string][] = [
    [-5, '0 s'],
    [0, '0 s'],
    [119_999, '119 s'],
    [120_000, '2 min'],
    [7_199_999, '119 min'],
    [7_200_000, '2 h'],
    [172_800_000, '2 d'],
  ];
  for (const [ms, want] of cases) it(`${ms} ms → ${want}`, () => assert.equal(formatAge(ms), want));
});
