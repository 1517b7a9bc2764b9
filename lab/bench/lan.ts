// Scenario lan: what the service costs on a fast path (no shaping, no delay).
// Throughput through the relay as a fraction of direct, connection setup time
// and rate, and CPU per GB (the relay process's own, plus machine-wide softirq
// time, which also holds what the other jobs on this machine cost).
import { fmtSize, table } from '../scenario.js';
import { cpuSeconds, fmtRatio, fmtStats, ratio, sideBySide, softirqSeconds, type PathName, type PathSpec, type Probe, type Sample } from './measure.js';
import { fig, finishScenario, newScenario, summarize, type CaseOut, type ScenarioOut } from './report.js';
import { addGuests, benchLab, type BenchLab } from './setup.js';

export interface LanOptions {
  runs: number;
  /** bytes moved per throughput repetition, split over the parallel connections */
  bytes: number;
  parallel: number[];
  setupCount: number;
  rateCount: number;
  rateParallel: number;
  prefix: string;
  profile: string;
  log: (s: string) => void;
  /** profile options set on the localack vifs (--set) */
  options: Record<string, string>;
  save: (s: ScenarioOut) => void;
}

/** Probes of one path: which connections were split, CPU of the process that relays it, softirq. */
export function costProbes(b: BenchLab, relayPid: (p: PathSpec) => number | undefined, extra: (p: PathSpec) => Probe[] = () => []): (p: PathSpec) => Probe[] {
  return (p) => {
    const pid = relayPid(p);
    return [
      b.splitProbe(),
      { name: 'softirqSec', read: async () => softirqSeconds() },
      ...(pid ? [{ name: 'relayCpuSec', read: async () => cpuSeconds(pid) }] : []),
      ...extra(p),
    ];
  };
}

const gb = (s: Sample, size: number) => (s.transfers.filter((t) => t.ok).length * size) / 1e9;

/** Long transfers, count/parallel 1 and 4 (or as given), both directions. */
export async function throughputCases(b: BenchLab, paths: PathSpec[], probes: (p: PathSpec) => Probe[], o: Pick<LanOptions, 'runs' | 'bytes' | 'parallel' | 'log'>,
  check: (s: Sample, count: number) => void): Promise<CaseOut[]> {
  const cases: CaseOut[] = [];
  for (const par of o.parallel) {
    for (const dir of ['up', 'down'] as const) {
      const size = Math.floor(o.bytes / par);
      o.log(`  throughput ${dir}, ${par} x ${fmtSize(size)} in parallel, ${o.runs} runs per path`);
      const samples = await sideBySide(b.lab, paths, { dir, size, count: par, parallel: par, timeoutSec: 300 }, o.runs, probes, o.log);
      for (const s of samples) check(s, par);
      cases.push({
        name: `throughput ${dir} P${par}`, params: { dir, size, count: par, parallel: par }, samples,
        summary: summarize(samples, {
          goodputMbps: (s) => s.aggregateGoodputMbps,
          relayCpuSecPerGB: (s) => (s.extra.relayCpuSec === undefined ? null : s.extra.relayCpuSec / gb(s, size)),
          softirqSecPerGB: (s) => s.extra.softirqSec! / gb(s, size),
        }),
      });
    }
  }
  return cases;
}

export function throughputTable(cases: CaseOut[], paths: PathName[]): string {
  const f0 = (x: number) => x.toFixed(0), f2 = (x: number) => x.toFixed(2);
  const rows: string[][] = [];
  for (const c of cases) {
    const d = fig(c, 'direct', 'goodputMbps').median;
    for (const p of paths) {
      const g = fig(c, p, 'goodputMbps');
      rows.push([c.params.dir as string, `P${c.params.parallel}`, p, fmtStats(g, f0), p === 'direct' ? '1.00x' : fmtRatio(ratio(g.median, d)),
        p === 'direct' ? '-' : fmtStats(fig(c, p, 'relayCpuSecPerGB'), f2), fmtStats(fig(c, p, 'softirqSecPerGB'), f2)]);
    }
  }
  return table(['dir', 'conns', 'path', 'Mbit/s median (min-max)', 'of direct', 'relay CPU s/GB', 'softirq s/GB (machine)'], rows);
}

export async function lanScenario(o: LanOptions): Promise<ScenarioOut> {
  const out = newScenario('lan', 'lan', { runs: o.runs, bytes: o.bytes, parallel: o.parallel, setupCount: o.setupCount, rateCount: o.rateCount, rateParallel: o.rateParallel, xlnetProfile: o.profile, options: o.options });
  const b = await benchLab(o.prefix, 'lan', o.profile, o.options);
  const paths: PathSpec[] = [{ name: 'direct', domid: 1 }, { name: 'localack', domid: 2 }];
  try {
    await addGuests(b, [{ domid: 1, profile: 'modern', localack: false }, { domid: 2, profile: 'modern', localack: true }]);
    out.setup.xlnetd = await b.daemonInfo();
    out.setup.attachments = await b.attachments();
    // The daemon's CPU is read for the direct path too: it shows what an idle xlnetd costs.
    const probes = costProbes(b, () => b.daemonPid);
    const check = (s: Sample, count: number) => {
      const expect = s.path === 'localack' ? count : 0;
      if (s.extra.split !== expect) { s.ok = false; s.errors.push(`${s.path}: xlnetd split ${s.extra.split} of ${count} connections, expected ${expect}`); }
    };
    out.cases.push(...await throughputCases(b, paths, probes, o, check));
    o.save(out);

    o.log(`  connection setup: ${o.setupCount} empty uploads one after another, ${o.runs} runs per path`);
    const setup = await sideBySide(b.lab, paths, { dir: 'up', size: 0, count: o.setupCount, parallel: 1, timeoutSec: 120 }, o.runs, probes, o.log);
    for (const s of setup) check(s, o.setupCount);
    const med = (xs: number[]) => { const v = [...xs].sort((a, c) => a - c); return v.length ? v[Math.floor(v.length / 2)]! : null; };
    out.cases.push({
      name: 'connection setup', params: { dir: 'up', size: 0, count: o.setupCount, parallel: 1 }, samples: setup,
      summary: summarize(setup, {
        connectMs: (s) => med(s.transfers.map((t) => t.connect_ms).filter((x): x is number => x !== null)),
        fctMs: (s) => med(s.transfers.map((t) => t.fct_ms)),
      }),
    });
    o.save(out);

    o.log(`  connection rate: ${o.rateCount} empty uploads, ${o.rateParallel} at a time, ${o.runs} runs per path`);
    const rate = await sideBySide(b.lab, paths, { dir: 'up', size: 0, count: o.rateCount, parallel: o.rateParallel, timeoutSec: 120 }, o.runs, probes, o.log);
    for (const s of rate) check(s, o.rateCount);
    out.cases.push({
      name: 'connection rate', params: { dir: 'up', size: 0, count: o.rateCount, parallel: o.rateParallel }, samples: rate,
      summary: summarize(rate, {
        connPerSec: (s) => (s.transfers.length * 1000) / s.wallMs,
        relayCpuMsPerConn: (s) => (s.extra.relayCpuSec! * 1000) / s.transfers.length,
      }),
    });
  } finally {
    await b.lab.down();
  }
  out.tables.push(`Throughput on the lan profile, ${fmtSize(o.bytes)} per run, median (min-max) of ${o.runs} runs; relay = xlnetd\n` +
    throughputTable(out.cases.filter((c) => c.name.startsWith('throughput')), ['direct', 'localack']));
  const f2 = (x: number) => x.toFixed(2), f0 = (x: number) => x.toFixed(0);
  const su = out.cases.find((c) => c.name === 'connection setup'), ra = out.cases.find((c) => c.name === 'connection rate');
  if (su && ra) {
    out.tables.push(`Connection setup (${o.setupCount} empty uploads in sequence; per-run medians) and rate (${o.rateCount} empty uploads, ${o.rateParallel} at a time)\n` +
      table(['path', 'connect ms', 'FCT ms (0 B)', 'conn/s', 'xlnetd CPU ms/conn'], paths.map((p) => [p.name,
        fmtStats(fig(su, p.name, 'connectMs'), (x) => x.toFixed(3)), fmtStats(fig(su, p.name, 'fctMs'), f2),
        fmtStats(fig(ra, p.name, 'connPerSec'), f0), p.name === 'direct' ? '-' : fmtStats(fig(ra, p.name, 'relayCpuMsPerConn'), f2)])));
  }
  out.notes.push('softirq s/GB is machine-wide (/proc/stat over the run): it includes every other job on this shared machine; compare it with the direct row of the same case');
  out.notes.push('relay CPU = utime+stime of xlnetd (/proc/<pid>/stat, all threads) over the run, per GB delivered');
  return finishScenario(out);
}
