/**
 * Summaries of V8 CPU profiles (`node --cpu-prof`): where the self time went, by function and by
 * coarse category (ssh2, Node internals, burrow, GC, idle). Pure apart from reading the file.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Sampled time in ms, idle included. */
  totalMs: number;
  /** Sampled time in ms, excluding `(idle)`. */
  busyMs: number;
  categories: { category: string; ms: number; pctBusy: number }[];
  top: { fn: string; where: string; ms: number; pctBusy: number }[];
}

function categoryOf(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(program)') return 'V8/native (program)';
  if (url.includes('node_modules/ssh2/')) return 'ssh2';
  if (url.includes('node_modules/pino') || url.includes('node_modules/thread-stream')) {
    return 'pino (logging)';
  }
  if (url.includes('node_modules/')) return 'other dependencies';
  if (url.includes('/dist/src/')) return 'burrow';
  if (url.startsWith('node:')) return 'Node internals';
  if (url === '') return 'native (no JS frame)';
  return 'other';
}

function shortUrl(url: string): string {
  const i = url.indexOf('node_modules/');
  if (i >= 0) return url.slice(i + 'node_modules/'.length);
  const j = url.indexOf('/dist/');
  if (j >= 0) return url.slice(j + 1);
  return url;
}

export function summarizeProfile(path: string, topN = 20): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const fns = new Map<string, { fn: string; where: string; us: number }>();
  const cats = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node || us <= 0) continue;
    total += us;
    const cat = categoryOf(node.callFrame);
    if (cat === 'idle') {
      idle += us;
      continue;
    }
    cats.set(cat, (cats.get(cat) ?? 0) + us);
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url ? `${shortUrl(url)}:${lineNumber + 1}` : '';
    const key = `${functionName}@${where}`;
    const entry = fns.get(key) ?? { fn: functionName || '(anonymous)', where, us: 0 };
    entry.us += us;
    fns.set(key, entry);
  }
  const busy = total - idle;
  const pct = (us: number) => (busy > 0 ? Math.round((us / busy) * 1000) / 10 : 0);
  return {
    totalMs: Math.round(total / 1000),
    busyMs: Math.round(busy / 1000),
    categories: [...cats]
      .sort((a, b) => b[1] - a[1])
      .map(([category, us]) => ({ category, ms: Math.round(us / 1000), pctBusy: pct(us) })),
    top: [...fns.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, topN)
      .map((e) => ({ fn: e.fn, where: e.where, ms: Math.round(e.us / 1000), pctBusy: pct(e.us) })),
  };
}
