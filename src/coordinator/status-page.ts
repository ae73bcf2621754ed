/**
 * The status page's HTML: one self-contained document (inline CSS, no script, no external
 * resource, so it works on an air-gapped network), fluid for a phone, reloading itself every
 * `refreshS` seconds with `<meta http-equiv="refresh">` (the search is in the URL, so it stays).
 * Pure: the route (status-route.ts) gathers a `PageView`; this renders it. Every value is
 * escaped by `html` (names, ids and addresses are chosen by whoever registers or writes Redis),
 * and `STATUS_PAGE_CSP` allows this page's own stylesheet and nothing else. Its size does not
 * grow with the number of names: it shows counts, one searched name, relays and bounded events.
 */
import { createHash } from 'node:crypto';
import type { FleetEvent } from './events.js';
import { type Html, html, raw } from './html.js';
import type { RelayState } from './placement.js';

export interface RelayRow {
  readonly id: string;
  readonly address: string;
  readonly state: RelayState;
  readonly devices: number;
  readonly names: number;
  /** 0: the relay declares no capacity. */
  readonly capacity: number;
  readonly heartbeatAgeMs: number;
  readonly version: string;
}

export type SearchResult =
  | {
      readonly kind: 'found';
      readonly name: string;
      readonly relayId: string;
      /** Undefined when the holding relay is not in the relay list (lost, expired). */
      readonly address: string | undefined;
      readonly ports: readonly number[];
      readonly owner: string;
      readonly since: number;
    }
  | { readonly kind: 'missing'; readonly name: string }
  | { readonly kind: 'invalid'; readonly query: string; readonly reason: string }
  | { readonly kind: 'unavailable'; readonly name: string };

export interface PageView {
  readonly now: number;
  readonly version: string;
  readonly refreshS: number;
  readonly registry:
    | { readonly reachable: true; readonly latencyMs: number }
    | { reachable: false };
  /** Sorted by id. */
  readonly relays: readonly RelayRow[];
  /** Newest first. */
  readonly events: readonly FleetEvent[];
  /** The raw `q` as typed (refilled in the box) and what it found; absent without a search. */
  readonly search?: { readonly query: string; readonly result: SearchResult };
}

/** Relays drawn at most; beyond that the page says how many more (their totals still count). */
export const MAX_RELAYS_SHOWN = 500;

const CSS = `
:root{color-scheme:light dark;--fg:#1b1f24;--bg:#f6f7f9;--card:#fff;--mute:#5b6470;--line:#d9dde3;
--up:#1a7f37;--draining:#9a6700;--lost:#cf222e}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--card:#161b22;--mute:#9da7b3;
--line:#30363d;--up:#3fb950;--draining:#d29922;--lost:#f85149}}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:72rem;margin:0 auto;padding:1rem}
h1{font-size:1.3rem;margin:0 0 .25rem}h2{font-size:1.05rem;margin:1.5rem 0 .5rem}
.mute{color:var(--mute)}
.summary{display:flex;flex-wrap:wrap;gap:.5rem 1.25rem;margin:.5rem 0}
.summary b{font-variant-numeric:tabular-nums}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(17rem,1fr));gap:.75rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:.5rem;padding:.75rem;overflow-wrap:anywhere}
.card h3{font-size:1rem;margin:0 0 .25rem}
.state{font-weight:600;text-transform:uppercase;font-size:.8rem;letter-spacing:.04em}
.up{color:var(--up)}.draining{color:var(--draining)}.lost,.bad{color:var(--lost)}
meter{width:100%;height:1rem}
form{display:flex;gap:.5rem;flex-wrap:wrap}
input[type=search]{flex:1 1 12rem;min-width:0;font:inherit;padding:.4rem .5rem;border:1px solid var(--line);border-radius:.35rem;background:var(--card);color:var(--fg)}
button{font:inherit;padding:.4rem .9rem;border-radius:.35rem;border:1px solid var(--line);background:var(--card);color:var(--fg)}
.result{margin-top:.5rem}
ol.events{list-style:none;padding:0;margin:0}
ol.events li{padding:.3rem 0;border-bottom:1px solid var(--line);overflow-wrap:anywhere}
time{font-variant-numeric:tabular-nums}
`;

/** The Content-Security-Policy sent with the page: its own stylesheet, nothing else. */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(CSS).digest('base64')}'`,
  'img-src data:',
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** "12 s", "5 min", "3 h", "2 d". */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min`;
  if (s < 172_800) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86_400)} d`;
}

const iso = (ms: number) => new Date(ms).toISOString();
const when = (ms: number, now: number) =>
  html`<time datetime="${iso(ms)}" title="${iso(ms)}">${formatAge(now - ms)} ago</time>`;

function load(r: RelayRow): Html {
  if (r.capacity <= 0) {
    return html`<div>${r.devices} device${r.devices === 1 ? '' : 's'} <span class="mute">(no capacity declared)</span></div>`;
  }
  const c = r.capacity;
  return html`<meter min="0" max="${c}" value="${Math.min(r.devices, c)}" low="${c * 0.7}" high="${c * 0.9}" optimum="0">${r.devices} of ${c}</meter>
<div>${r.devices} / ${c} devices</div>`;
}

function relayCard(r: RelayRow): Html {
  return html`<div class="card relay" data-relay="${r.id}" data-state="${r.state}">
<h3>${r.address}</h3>
<div><span class="state ${r.state}">${r.state}</span> <span class="mute">· heartbeat ${formatAge(r.heartbeatAgeMs)} ago · ${r.names} name${r.names === 1 ? '' : 's'}</span></div>
${load(r)}
<div class="mute">${r.id} · v${r.version}</div>
</div>`;
}

function searchResult(result: SearchResult, now: number): Html {
  switch (result.kind) {
    case 'found':
      return html`<div class="card result" id="found">
<b>${result.name}</b> is on <b>${result.address ?? 'a relay not in the list'}</b>
<span class="mute">(${result.relayId})</span>, port${result.ports.length === 1 ? '' : 's'} ${result.ports.join(', ')},
since ${iso(result.since)} (${formatAge(now - result.since)} ago).
<div class="mute">owner ${result.owner}</div></div>`;
    case 'missing':
      return html`<div class="card result" id="missing"><b>${result.name}</b> is not registered.</div>`;
    case 'invalid':
      return html`<div class="card result bad" id="invalid">Not a name: ${result.reason}.</div>`;
    case 'unavailable':
      return html`<div class="card result bad" id="unavailable">Cannot look up <b>${result.name}</b>: the registry is unreachable.</div>`;
  }
}

function eventLine(e: FleetEvent, now: number): Html {
  const text =
    e.kind === 'moved'
      ? html`name <b>${e.name}</b> moved from ${e.from} to ${e.to}`
      : html`relay <b>${e.address}</b> <span class="state ${e.kind === 'gone' ? 'mute' : e.kind === 'joined' || e.kind === 'back' ? 'up' : e.kind}">${e.kind}</span> <span class="mute">${e.relayId}</span>`;
  return html`<li data-kind="${e.kind}">${when(e.at, now)} · ${text}</li>`;
}

export function renderStatusPage(v: PageView): string {
  const count = { up: 0, draining: 0, lost: 0 };
  let devices = 0;
  let names = 0;
  for (const r of v.relays) {
    count[r.state]++;
    devices += r.devices;
    names += r.names;
  }
  const shown = v.relays.slice(0, MAX_RELAYS_SHOWN);
  const hidden = v.relays.length - shown.length;
  const registry = v.registry.reachable
    ? html`<span class="up" id="registry">reachable</span> <span class="mute">(${v.registry.latencyMs} ms)</span>`
    : html`<span class="bad" id="registry">unreachable</span>`;
  const page = html`<!doctype html>
<html lang="en"><head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="${v.refreshS}">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>burrow · ${count.up} up${count.lost ? ` · ${count.lost} lost` : ''}</title>
<style>${raw(CSS)}</style>
</head><body><main>
<h1>burrow cluster</h1>
<div class="mute">coordinator v${v.version} · ${iso(v.now)} · refreshes every ${v.refreshS} s</div>
<div class="summary">
<span>registry ${registry}</span>
<span><b id="count-up">${count.up}</b> up</span>
<span><b id="count-draining">${count.draining}</b> draining</span>
<span><b id="count-lost">${count.lost}</b> lost</span>
<span><b id="devices">${devices}</b> devices</span>
<span><b id="names">${names}</b> names</span>
</div>
<h2>Find a name</h2>
<form method="get" action="/" role="search">
<input type="search" name="q" value="${v.search?.query ?? ''}" placeholder="device name" maxlength="253" aria-label="device name" autocapitalize="none" spellcheck="false">
<button type="submit">Find</button>
</form>
${v.search ? searchResult(v.search.result, v.now) : ''}
<h2>Relays</h2>
${shown.length === 0 ? html`<p class="mute">No relay is registered.</p>` : html`<div class="grid" id="relays">${shown.map(relayCard)}</div>`}
${hidden > 0 ? html`<p class="mute">and ${hidden} more relays not shown.</p>` : ''}
<h2>Recent events</h2>
${v.events.length === 0 ? html`<p class="mute">No event since this coordinator started.</p>` : html`<ol class="events" id="events">${v.events.map((e) => eventLine(e, v.now))}</ol>`}
</main></body></html>
`;
  return page.text;
}
