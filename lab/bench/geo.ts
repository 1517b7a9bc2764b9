// Scenarios geo-legacy and geo-modern: flow completion times over the `geo`
// link (10 Mbit/s up, 50 down, 650 ms RTT), direct vs local acknowledgement,
// next to the physical bound. Each repetition runs both paths back to back.
import { linkProfile } from '../profiles.js';
import { fmtSize, physicalBoundMs, table, windowBoundMs } from '../scenario.js';
import { fmtRatio, fmtStats, ratio, routeInitcwnd, sec, sideBySide, type PathSpec } from './measure.js';
import { fig, finishScenario, initcwndSeen, newScenario, summarize, type ScenarioOut } from './report.js';
import { addGuests, benchLab, SATELLITE } from './setup.js';
import { summarizeTrace, type TcpInfoPoint } from './trace.js';

export interface GeoOptions {
  guest: 'legacy' | 'modern';
  runs: number;
  sizes: number[];
  prefix: string;
  log: (s: string) => void;
  /** profile options set on the localack vifs (--set) */
  options: Record<string, string>;
  /** called after every case, so partial results survive an interrupted run */
  save: (s: ScenarioOut) => void;
  /** directions to run (default both) */
  dirs?: Array<'up' | 'down'>;
  /** paths to run (default both); localack alone for quick sweeps of settings */
  paths?: Array<'direct' | 'localack'>;
  /** record the WAN leg's tcp_info every 100 ms in the localack samples (trace.ts) */
  trace?: boolean;
}

export async function geoScenario(o: GeoOptions): Promise<ScenarioOut> {
  const link = linkProfile('geo');
  const name = `geo-${o.guest}`;
  const out = newScenario(name, link.name, { guest: o.guest, runs: o.runs, sizes: o.sizes, xlnetProfile: 'satellite', options: o.options, profileSettings: SATELLITE.settings });
  const b = await benchLab(o.prefix, link.name, 'satellite', o.options);
  try {
    await addGuests(b, [{ domid: 1, profile: o.guest, localack: false }, { domid: 2, profile: o.guest, localack: true }]);
    out.setup.routeInitcwnd = await routeInitcwnd(b.lab.ns.dom0);
    out.setup.xlnetd = await b.daemonInfo();
    out.setup.attachments = await b.attachments();
    const wanted = o.paths ?? ['direct', 'localack'];
    const paths: PathSpec[] = ([{ name: 'direct', domid: 1 }, { name: 'localack', domid: 2 }] as PathSpec[]).filter((p) => (wanted as string[]).includes(p.name));
    const rttMs = link.up.delayMs + link.down.delayMs;
    for (const dir of o.dirs ?? ['up', 'down'] as const) {
      for (const size of o.sizes) {
        o.log(`  ${name}: ${dir} ${fmtSize(size)}, ${o.runs} runs per path`);
        const samples = await sideBySide(b.lab, paths, { dir, size, timeoutSec: 900 }, o.runs, () => [b.splitProbe()], o.log, b.wanWatcher(o.trace));
        for (const s of samples) {
          const expect = s.path === 'localack' ? 1 : 0;
          if (s.extra.split !== expect) { s.ok = false; s.errors.push(`${s.path}: xlnetd split ${s.extra.split} connections, expected ${expect}`); }
          const w = s.watched as { tcpInfo?: TcpInfoPoint[]; tcpInfoSummary?: unknown } | undefined;
          if (w?.tcpInfo) {
            const t = summarizeTrace(w.tcpInfo, rttMs);
            w.tcpInfoSummary = t;
            if (t) o.log(`      run ${s.run + 1} WAN leg: busy ${t.busyMs} ms, rwnd_limited ${t.rwndLimitedMs} ms, sndbuf_limited ${t.sndbufLimitedMs} ms, retrans ${t.retrans}, max cwnd ${t.maxCwnd}; per RTT acked KB/cwnd/snd_wnd KB: ` +
              t.perRtt.map((r) => `${r.ackedKB}/${r.cwnd}/${r.sndWndKB}`).join(' '));
          }
        }
        out.cases.push({
          name: `${dir} ${fmtSize(size)}`,
          params: { dir, size, boundMs: physicalBoundMs(link, dir, size), windowBoundMs: o.guest === 'legacy' ? windowBoundMs(link, size) : null },
          samples,
          summary: summarize(samples, { fctMs: (s) => s.transfers[0]?.fct_ms }),
        });
        o.save(out);
      }
    }
  } finally {
    await b.lab.down();
  }
  const rows = out.cases.map((c) => {
    const d = fig(c, 'direct', 'fctMs'), l = fig(c, 'localack', 'fctMs');
    const bound = c.params.boundMs as number;
    const show = (path: 'direct' | 'localack') => (c.summary[path] ? fmtStats(path === 'direct' ? d : l, sec) : 'not run');
    const loads = c.samples.map((s) => s.load1);
    return [c.params.dir as string, fmtSize(c.params.size as number), show('direct'), show('localack'), sec(bound),
      fmtRatio(ratio(d.median, l.median), 1), fmtRatio(ratio(l.median, bound)),
      `${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)}`];
  });
  out.tables.push(`Flow completion time at the receiver, seconds: median (min-max) of ${o.runs} runs; link geo, ${o.guest} guest\n` +
    table(['dir', 'size', 'direct', 'localack', 'bound', 'speedup', 'localack/bound', 'load1'], rows));
  if (o.guest === 'legacy') {
    const c = out.cases.find((x) => x.params.dir === 'up' && x.params.size === 10_000_000);
    if (c) {
      const d = fig(c, 'direct', 'fctMs').median, l = fig(c, 'localack', 'fctMs').median, bound = c.params.boundMs as number;
      const sp = ratio(d, l), vb = ratio(l, bound);
      out.targets.push({ name: 'geo-legacy 10 MB upload: localack >= 8x faster than direct', met: sp === null ? null : sp >= 8, detail: `speedup ${fmtRatio(sp)} (direct ${d === null ? '-' : sec(d)} s, localack ${l === null ? '-' : sec(l)} s)` });
      out.targets.push({ name: 'geo-legacy 10 MB upload: localack within 1.5x of the physical bound', met: vb === null ? null : vb <= 1.5, detail: `localack/bound ${fmtRatio(vb)} (bound ${sec(bound)} s)` });
    }
  } else {
    for (const c of out.cases) {
      const d = fig(c, 'direct', 'fctMs'), l = fig(c, 'localack', 'fctMs');
      out.targets.push({
        name: `geo-modern ${c.name}: localack never slower than direct`,
        met: d.median === null || l.median === null ? null : l.median <= d.median,
        detail: `median localack ${l.median === null ? '-' : sec(l.median)} s vs direct ${d.median === null ? '-' : sec(d.median)} s (${fmtRatio(ratio(l.median, d.median))}, ${l.median === null || d.median === null ? '-' : `${l.median >= d.median ? '+' : ''}${(l.median - d.median).toFixed(0)} ms`}); worst localack ${l.max === null ? '-' : sec(l.max)} s vs worst direct ${d.max === null ? '-' : sec(d.max)} s`,
      });
    }
  }
  out.setup.wanInitcwnd = initcwndSeen(out);
  out.notes.push('bound = handshake RTT + size/rate + RTT/2 (benchmarks.md); speedup = direct median / localack median');
  if (o.guest === 'legacy') out.notes.push(`a 64 KiB-window guest alone is capped at one window per RTT: ${out.cases.map((c) => `${c.name} >= ${sec(c.params.windowBoundMs as number)} s`).join(', ')}`);
  return finishScenario(out);
}
