// What every scenario hands back: its cases with all samples, a readable
// table, and the targets checked against the medians.
import { loadavg } from 'node:os';
import { stats, type PathName, type Sample, type Stats } from './measure.js';

export interface Target { name: string; met: boolean | null; detail: string }

export interface CaseOut {
  name: string;
  params: Record<string, unknown>;
  samples: Sample[];
  /** per path: the main figure's statistics over the ok samples */
  summary: Record<string, Record<string, Stats>>;
}

export interface ScenarioOut {
  scenario: string;
  link: string;
  startedAt: string;
  finishedAt?: string;
  load: { start: number[]; end?: number[]; maxDuringRuns?: number };
  setup: Record<string, unknown>;
  cases: CaseOut[];
  tables: string[];
  targets: Target[];
  notes: string[];
}

export function newScenario(scenario: string, link: string, setup: Record<string, unknown> = {}): ScenarioOut {
  return { scenario, link, startedAt: new Date().toISOString(), load: { start: loadavg() }, setup, cases: [], tables: [], targets: [], notes: [] };
}

export function finishScenario(s: ScenarioOut): ScenarioOut {
  s.finishedAt = new Date().toISOString();
  s.load.end = loadavg();
  const loads = s.cases.flatMap((c) => c.samples.map((x) => x.load1));
  if (loads.length) s.load.maxDuringRuns = Math.max(...loads);
  return s;
}

/** Statistics of one figure per path, over the samples that succeeded. */
export function summarize(samples: Sample[], figures: Record<string, (s: Sample) => number | null | undefined>): Record<string, Record<string, Stats>> {
  const out: Record<string, Record<string, Stats>> = {};
  const paths = [...new Set(samples.map((s) => s.path))];
  for (const p of paths) {
    const ok = samples.filter((s) => s.path === p && s.ok);
    out[p] = {};
    for (const [k, f] of Object.entries(figures)) out[p]![k] = stats(ok.map(f));
    out[p]!.failed = { median: samples.filter((s) => s.path === p && !s.ok).length, min: null, max: null, n: 0 };
  }
  return out;
}

export function fig(c: CaseOut, path: PathName, figure: string): Stats {
  return c.summary[path]?.[figure] ?? { median: null, min: null, max: null, n: 0 };
}

/** The WAN leg's initial cwnd and engine as watched during the localack samples, e.g. "40 (bbr, engine user) in 10 of 10 samples". */
export function initcwndSeen(s: ScenarioOut): string {
  const seen = s.cases.flatMap((c) => c.samples).map((x) => x.watched as { initialCwnd?: number | null; cc?: string | null; engine?: string | null } | undefined).filter((w) => w !== undefined);
  if (!seen.length) return 'not watched';
  const counts = new Map<string, number>();
  for (const w of seen) {
    const k = `${w!.initialCwnd ?? 'not seen'} (${w!.cc ?? '?'}, engine ${w!.engine ?? '?'})`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${k} in ${n} of ${seen.length} samples`).join('; ');
}
