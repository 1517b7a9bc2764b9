// Scenario haproxy: HAProxy in transparent mode (TPROXY, usesrc clientip) in
// Dom0 as the comparator, next to direct and xlnetd in the same lab: the
// geo-legacy 10 MB upload, then the lan throughput.
import { execFileSync } from 'node:child_process';
import { call } from '../../plugin/src/daemon/client.js';
import { run } from '../exec.js';
import { linkProfile } from '../profiles.js';
import { fmtSize, physicalBoundMs, table } from '../scenario.js';
import { startHaproxy, steeringRules } from './haproxy.js';
import { fmtRatio, fmtStats, ratio, routeInitcwnd, sec, sideBySide, type PathSpec, type Sample } from './measure.js';
import { fig, finishScenario, initcwndSeen, newScenario, summarize, type ScenarioOut } from './report.js';
import { costProbes, throughputCases, throughputTable } from './lan.js';
import { addGuests, benchLab, SATELLITE } from './setup.js';

export interface ComparatorOptions {
  runs: number;
  geoSize: number;
  lanBytes: number;
  parallel: number[];
  lanProfile: string;
  /** which parts to run: the geo upload, the lan throughput */
  parts: Array<'geo' | 'lan'>;
  prefix: string;
  log: (s: string) => void;
  /** profile options set on the localack vifs (--set) */
  options: Record<string, string>;
  save: (s: ScenarioOut) => void;
}

export async function haproxyScenario(o: ComparatorOptions): Promise<ScenarioOut> {
  const geo = linkProfile('geo');
  const out = newScenario('haproxy', 'geo, then lan', { runs: o.runs, geoSize: o.geoSize, lanBytes: o.lanBytes, parallel: o.parallel,
    xlnetProfiles: { geo: 'satellite', lan: o.lanProfile }, options: o.options, satelliteSettings: SATELLITE.settings });
  const b = await benchLab(o.prefix, geo.name, 'satellite', o.options);
  try {
    await addGuests(b, [
      { domid: 1, profile: 'legacy', localack: false }, { domid: 2, profile: 'legacy', localack: true }, { domid: 3, profile: 'legacy', localack: false },
      { domid: 4, profile: 'modern', localack: false }, { domid: 5, profile: 'modern', localack: true }, { domid: 6, profile: 'modern', localack: false },
    ]);
    await call({ op: 'set', vif: 'vif5.0', profile: o.lanProfile, options: o.options }, { socket: b.socket });
    const steered = [3, 6].map((d) => b.lab.guest(d));
    const ha = await startHaproxy(b.lab, steered);
    out.setup.haproxyVersion = execFileSync('haproxy', ['-v'], { encoding: 'utf8' }).split('\n')[0];
    out.setup.haproxyConfig = ha.config;
    out.setup.haproxySteering = steeringRules(steered);
    out.setup.routeInitcwnd = await routeInitcwnd(b.lab.ns.dom0);
    out.setup.xlnetd = await b.daemonInfo();
    out.setup.dom0DefaultCc = (await run(['sysctl', '-n', 'net.ipv4.tcp_congestion_control'], { ns: b.lab.ns.dom0 })).stdout.trim();
    const sessions = { name: 'haproxySessions', read: () => ha.sessions() };
    const check = (s: Sample, count: number) => {
      const want = { split: s.path === 'localack' ? count : 0, haproxySessions: s.path === 'haproxy' ? count : 0 };
      for (const [k, v] of Object.entries(want)) {
        if (s.extra[k] !== v) { s.ok = false; s.errors.push(`${s.path}: ${k} went up by ${s.extra[k]}, expected ${v}`); }
      }
    };
    const probes = costProbes(b, (p) => (p.name === 'localack' ? b.daemonPid : p.name === 'haproxy' ? ha.pid : undefined), () => [sessions]);

    if (o.parts.includes('geo')) {
      o.log(`  haproxy: geo legacy up ${fmtSize(o.geoSize)}, ${o.runs} runs per path`);
      const geoPaths: PathSpec[] = [{ name: 'direct', domid: 1 }, { name: 'localack', domid: 2 }, { name: 'haproxy', domid: 3 }];
      const samples = await sideBySide(b.lab, geoPaths, { dir: 'up', size: o.geoSize, timeoutSec: 900 }, o.runs, probes, o.log, b.wanWatcher());
      for (const s of samples) check(s, 1);
      out.cases.push({ name: `geo legacy up ${fmtSize(o.geoSize)}`, params: { link: 'geo', guest: 'legacy', dir: 'up', size: o.geoSize, boundMs: physicalBoundMs(geo, 'up', o.geoSize) },
        samples, summary: summarize(samples, { fctMs: (s) => s.transfers[0]?.fct_ms }) });
      o.save(out);
    }

    if (o.parts.includes('lan')) {
      await b.lab.setLink('lan');
      const lanPaths: PathSpec[] = [{ name: 'direct', domid: 4 }, { name: 'localack', domid: 5 }, { name: 'haproxy', domid: 6 }];
      out.cases.push(...await throughputCases(b, lanPaths, probes, { runs: o.runs, bytes: o.lanBytes, parallel: o.parallel, log: o.log }, check));
    }
    await ha.stop();
  } finally {
    await b.lab.down();
  }
  const g = out.cases.find((c) => c.name.startsWith('geo'));
  if (g) {
    const bound = g.params.boundMs as number;
    const d = fig(g, 'direct', 'fctMs');
    out.tables.push(`geo, legacy guest, ${fmtSize(o.geoSize)} upload: FCT seconds, median (min-max) of ${o.runs} runs\n` +
      table(['path', 'FCT s', 'speedup vs direct', 'of bound'], (['direct', 'localack', 'haproxy'] as const).map((p) => {
        const f = fig(g, p, 'fctMs');
        return [p, fmtStats(f, sec), fmtRatio(ratio(d.median, f.median), 1), fmtRatio(ratio(f.median, bound))];
      })) + `\n(bound ${sec(bound)} s)`);
    const l = fig(g, 'localack', 'fctMs').median, h = fig(g, 'haproxy', 'fctMs').median;
    out.notes.push(`geo ${fmtSize(o.geoSize)} upload: localack / haproxy FCT = ${fmtRatio(ratio(l, h))}`);
  }
  out.setup.wanInitcwnd = initcwndSeen(out);
  const tp = out.cases.filter((c) => c.name.startsWith('throughput'));
  if (tp.length) out.tables.push(`lan throughput, ${fmtSize(o.lanBytes)} per run, median (min-max) of ${o.runs} runs; relay = xlnetd or haproxy\n` + throughputTable(tp, ['direct', 'localack', 'haproxy']));
  out.notes.push('HAProxy: Debian package, stock settings plus transparent bind and usesrc clientip (setup.haproxyConfig); its WAN-leg sockets use Dom0\'s kernel defaults (autotuned buffers, setup.dom0DefaultCc), xlnetd the satellite profile on geo');
  return finishScenario(out);
}
