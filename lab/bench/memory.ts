// Scenario memory: Dom0's memory while fast guests push into the slowest link
// (geo-small, 2 Mbit/s up): xlnetd's RSS plus the kernel memory of both legs'
// sockets (ss skmem), per connection and in total, sampled during the run.
// The direct path holds no socket in Dom0 (frames are bridged); a short direct
// phase with the same load samples Dom0 to show it.
import { loadavg } from 'node:os';
import { call } from '../../plugin/src/daemon/client.js';
import type { StatusInfo } from '../../plugin/src/daemon/protocol.js';
import { sleep } from '../exec.js';
import { XFER_PORT, NET } from '../lab.js';
import { table } from '../scenario.js';
import { mib, rssBytes, socketMemory, stats, type Stats } from './measure.js';
import { finishScenario, newScenario, type ScenarioOut } from './report.js';
import { addGuests, benchLab, SATELLITE } from './setup.js';

export interface MemoryOptions {
  profiles: string[];
  guests: number;
  connsPerGuest: number;
  seconds: number;
  directSeconds: number;
  prefix: string;
  log: (s: string) => void;
  /** profile options set on the localack vifs (--set) */
  options: Record<string, string>;
  save: (s: ScenarioOut) => void;
}

interface MemSample { t: number; wanAcked: number; wanLeg: number; guestLeg: number; kernel: number; sockets: number; rss: number; buffered: number; load1: number }

export async function memoryScenario(o: MemoryOptions): Promise<ScenarioOut> {
  const out = newScenario('memory', 'geo-small', { guests: o.guests, connsPerGuest: o.connsPerGuest, seconds: o.seconds, profiles: o.profiles, options: o.options, satelliteSettings: SATELLITE.settings });
  const conns = o.guests * o.connsPerGuest;
  const rows: string[][] = [];
  for (const [k, profile] of o.profiles.entries()) {
    o.log(`  memory: profile ${profile}, ${o.guests} modern guests x ${o.connsPerGuest} uploads into geo-small for ${o.seconds} s`);
    const b = await benchLab(o.prefix, 'geo-small', profile, o.options);
    try {
      const withDirect = k === 0 && o.directSeconds > 0;
      const guests = Array.from({ length: o.guests }, (_, i) => ({ domid: i + 1, profile: 'modern' as const, localack: true }));
      const direct = withDirect ? Array.from({ length: o.guests }, (_, i) => ({ domid: i + 11, profile: 'modern' as const, localack: false })) : [];
      await addGuests(b, [...guests, ...direct]);
      out.setup[`xlnetd_${profile}`] = await b.daemonInfo();
      await sleep(2000);
      const idleRss = rssBytes(b.daemonPid);
      const sample = async (t0: number): Promise<MemSample> => {
        const mem = await socketMemory(b.lab.ns.dom0, XFER_PORT);
        const st = await call<StatusInfo>({ op: 'status' }, { socket: b.socket });
        // the WAN leg's socket is the one whose peer is the remote; the guest leg's local end is the remote's address (transparent)
        const wan = mem.filter((m) => m.peer.startsWith(`${NET.remote4}:`) || m.peer.includes(NET.remote6));
        const guest = mem.filter((m) => !wan.includes(m));
        const sum = (xs: typeof mem) => xs.reduce((a, m) => a + m.total, 0);
        return { t: Math.round((Date.now() - t0) / 1000), wanAcked: wan.reduce((a, m) => a + m.bytesAcked, 0), wanLeg: sum(wan), guestLeg: sum(guest), kernel: sum(mem), sockets: mem.length,
          rss: rssBytes(b.daemonPid), buffered: st.memory.bufferedBytes, load1: loadavg()[0]! };
      };
      const push = async (domids: number[], seconds: number) => {
        const t0 = Date.now();
        const running = domids.map((d) => b.lab.transfer(d, { dir: 'up', size: '100g', count: o.connsPerGuest, parallel: o.connsPerGuest, timeoutSec: seconds }));
        const samples: MemSample[] = [];
        while (Date.now() - t0 < seconds * 1000 - 2500) { await sleep(5000); samples.push(await sample(t0)); }
        await Promise.all(running);
        // what the remote acknowledged on the WAN legs by the last sample (a timed-out upload reports no count of its own)
        const last = samples[samples.length - 1];
        return { samples, delivered: last?.wanAcked ?? 0, seconds: last?.t ?? 1 };
      };
      if (withDirect) {
        const r = await push(direct.map((g) => g.domid), o.directSeconds);
        out.cases.push({ name: 'direct', params: { profile: 'none (direct)', conns, seconds: o.directSeconds, delivered: r.delivered }, samples: [],
          summary: { direct: { dom0KernelBytes: stats(r.samples.map((s) => s.kernel)), dom0Sockets: stats(r.samples.map((s) => s.sockets)) } } });
        o.log(`    direct: Dom0 socket memory max ${Math.max(0, ...r.samples.map((s) => s.kernel))} B over ${r.samples.length} samples`);
        await sleep(3000);
      }
      const r = await push(guests.map((g) => g.domid), o.seconds);
      // steady state: samples after the first 15 s (the buffers fill at LAN speed, well before)
      const steady = r.samples.filter((s) => s.t >= 15);
      const st = (f: (s: MemSample) => number): Stats => stats(steady.map(f));
      const summary: Record<string, Stats> = {
        rss: st((s) => s.rss), kernel: st((s) => s.kernel), wanLeg: st((s) => s.wanLeg), guestLeg: st((s) => s.guestLeg),
        buffered: st((s) => s.buffered), total: st((s) => s.rss + s.kernel),
        perConnection: st((s) => (s.rss - idleRss + s.kernel) / conns), sockets: st((s) => s.sockets),
      };
      out.cases.push({ name: `localack ${profile}`, params: { profile, conns, seconds: o.seconds, idleRss, delivered: r.delivered, upRateMbps: (r.delivered * 8) / r.seconds / 1e6, series: r.samples },
        samples: [], summary: { localack: summary } });
      for (const s of r.samples) o.log(`    ${s.t}s: kernel ${mib(s.kernel)} MiB (wan ${mib(s.wanLeg)}, guest ${mib(s.guestLeg)}, ${s.sockets} sockets), xlnetd RSS ${mib(s.rss)} MiB, relay buffered ${mib(s.buffered)} MiB`);
      const m = (x: Stats) => (x.median === null ? '-' : `${mib(x.median)} (${mib(x.min!)}-${mib(x.max!)})`);
      rows.push([profile, String(conns), mib(idleRss), m(summary.rss!), m(summary.wanLeg!), m(summary.guestLeg!), m(summary.total!), m(summary.perConnection!), ((r.delivered * 8) / r.seconds / 1e6).toFixed(2)]);
      o.save(out);
    } finally {
      await b.lab.down();
    }
  }
  const loads = out.cases.flatMap((c) => ((c.params.series as MemSample[] | undefined) ?? []).map((s) => s.load1));
  if (loads.length) out.notes.push(`load average (1 min) during the samples: ${Math.min(...loads).toFixed(2)}-${Math.max(...loads).toFixed(2)}`);
  out.tables.push(`Dom0 memory, MiB, median (min-max) over samples every 5 s after the first 15 s; geo-small, ${conns} uploading connections\n` +
    table(['profile', 'conns', 'idle RSS', 'xlnetd RSS', 'kernel WAN leg', 'kernel guest leg', 'total', 'per conn', 'Mbit/s delivered'], rows));
  out.notes.push('kernel = ss -m skmem of Dom0\'s sockets to/from the transfer port: r + max(t, w) + bl; per conn = (RSS - idle RSS + kernel) / connections');
  const d = out.cases.find((c) => c.name === 'direct');
  if (d) out.notes.push(`direct path alongside (same load, no service): Dom0 socket memory max ${d.summary.direct!.dom0KernelBytes!.max ?? 0} B (frames are bridged; the guests' own sockets hold the data)`);
  return finishScenario(out);
}
