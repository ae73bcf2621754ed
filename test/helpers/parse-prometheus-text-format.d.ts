/** Types for the parser the metrics tests read `/metrics` with (the package ships none). */
declare module 'parse-prometheus-text-format' {
  export interface PromSample {
    readonly labels?: Record<string, string>;
    /** Counters, gauges, untyped. */
    readonly value?: string;
    /** Histograms. */
    readonly buckets?: Record<string, string>;
    readonly count?: string;
    readonly sum?: string;
  }
  export interface PromFamily {
    readonly name: string;
    readonly help: string;
    readonly type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
    readonly metrics: readonly PromSample[];
  }
  export default function parsePrometheusTextFormat(text: string): PromFamily[];
}
