// Measurement scenarios shared by the demo and the benchmark scripts: one case
// is (link, guest profile, direction, size); it runs direct (service detached)
// and through local acknowledgement in the same lab, and is compared with the
// physical bound of shared/docs/benchmarks.md.
import type { Lab, XferTransfer } from './lab.js';
import type { LinkProfile } from './profiles.js';

export type Path = 'direct' | 'localack';

export interface CaseSpec {
  guest: 'modern' | 'legacy';
  dir: 'up' | 'down';
  size: number;
}

export interface RunResult { fctMs: number; goodputMbps: number; ok: boolean; error?: string; sha: string }

export interface CaseResult extends CaseSpec {
  link: string;
  path: Path;
  runs: RunResult[];
  medianMs: number | null;
  minMs: number | null;
  maxMs: number | null;
}

export function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Handshake RTT + size / rate + RTT/2: no TCP can deliver sooner over this link. */
export function physicalBoundMs(link: LinkProfile, dir: 'up' | 'down', size: number): number {
  const d = dir === 'up' ? link.up : link.down;
  const rtt = link.up.delayMs + link.down.delayMs;
  const serial = d.rateBps > 0 ? (size * 8 * 1000) / d.rateBps : 0;
  return rtt + serial + rtt / 2;
}

/** The bound of a receiver that never opens more than `window` bytes: one window per RTT. */
export function windowBoundMs(link: LinkProfile, size: number, window = 65535): number {
  const rtt = link.up.delayMs + link.down.delayMs;
  return rtt + Math.ceil(size / window) * rtt + rtt / 2;
}

/** Runs one case `runs` times from the guest with that profile. */
export async function runCase(lab: Lab, domid: number, spec: CaseSpec, path: Path, runs: number, timeoutSec = 600): Promise<CaseResult> {
  const out: RunResult[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await lab.transfer(domid, { dir: spec.dir, size: spec.size, timeoutSec });
    const t: XferTransfer = r.transfers[0]!;
    const ok = t.ok && t.sha256_sender === t.sha256_receiver;
    out.push({ fctMs: t.fct_ms, goodputMbps: t.goodput_mbps, ok, error: t.error, sha: t.sha256_receiver });
  }
  const good = out.filter((r) => r.ok).map((r) => r.fctMs);
  return {
    ...spec, link: lab.link.name, path, runs: out,
    medianMs: median(good), minMs: good.length ? Math.min(...good) : null, maxMs: good.length ? Math.max(...good) : null,
  };
}

export function fmtSize(n: number): string {
  if (n >= 1e6) return `${+(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${+(n / 1e3).toFixed(1)} KB`;
  return `${n} B`;
}

export function fmtMs(ms: number | null): string {
  if (ms === null) return 'failed';
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
}

/** A plain aligned table. */
export function table(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i < 3 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ').trimEnd();
  return [line(header), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n');
}
