/**
 * Reading a burrow `/metrics` endpoint the way Prometheus does: over HTTP, parsed by a real
 * Prometheus text-format parser (parse-prometheus-text-format), never by ad-hoc regexes.
 */
import assert from 'node:assert/strict';
import parsePrometheusTextFormat, {
  type PromFamily,
  type PromSample,
} from 'parse-prometheus-text-format';
import type { Proc } from './proc.js';

export type { PromFamily };

export class Scrape {
  readonly families: readonly PromFamily[];
  /**
   * Every sample line by its own name (`x_count`, `x_bucket`…), from a second parse of the text
   * without its histogram TYPE lines: the parser folds a histogram's series into one and drops
   * their labels, so per-label counts of a histogram are read from here.
   */
  readonly #lines = new Map<string, PromSample[]>();

  constructor(readonly text: string) {
    this.families = parsePrometheusTextFormat(text);
    const untyped = parsePrometheusTextFormat(text.replace(/^# TYPE \S+ histogram\n/gm, ''));
    for (const f of untyped)
      this.#lines.set(f.name, [...(this.#lines.get(f.name) ?? []), ...f.metrics]);
  }

  family(name: string): PromFamily {
    const f = this.families.find((x) => x.name === name);
    assert.ok(f, `metric ${name} is exported:\n${this.text.slice(0, 4000)}`);
    return f;
  }

  /**
   * The value of `name`'s series whose labels include `labels` (exactly one must match); for a
   * histogram, its count of observations.
   */
  value(name: string, labels: Record<string, string> = {}): number {
    const f = this.family(name);
    const samples = f.type === 'HISTOGRAM' ? (this.#lines.get(`${name}_count`) ?? []) : f.metrics;
    const matching = samples.filter((m) =>
      Object.entries(labels).every(([k, v]) => m.labels?.[k] === v),
    );
    assert.equal(matching.length, 1, `one ${name} series with ${JSON.stringify(labels)}`);
    return Number(matching[0]!.value);
  }
}

/** GETs `url` and parses it; asserts a 200 in the Prometheus text format. */
export async function scrape(url: string, token?: string): Promise<Scrape> {
  const res = await fetch(url, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  const text = await res.text();
  assert.equal(res.status, 200, `${url}: ${res.status} ${text.slice(0, 200)}`);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return new Scrape(text);
}

/** The `/metrics` URL a relay or agent started with `--metrics-listen HOST:0` logged. */
export async function metricsUrlOf(proc: Proc): Promise<string> {
  const m = await proc.waitForLine(/metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/, {
    stream: 'stderr',
  });
  return m[1]!;
}
