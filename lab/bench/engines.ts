// The relay engines side by side on the `lan` link: throughput and CPU per GB
// of the user-space engine, the kernel engine (sockmap) and the direct path
// (a guest whose vif is not attached). Run on demand, not a test:
//
//   node --import tsx lab/bench/engines.ts [--runs 5] [--size 500m] [--json FILE]
//
// Each run moves --size up and down on each path, one transfer at a time. CPU
// is read around each transfer from /proc:
//   daemon   xlnetd's utime+stime (/proc/PID/stat)
//   softirq  the machine's softirq time (/proc/stat): the verdict and TCP run there
//   kworker  all kworker threads' utime+stime: the kernel engine's redirect
//            queue is drained by a workqueue (sk_psock_backlog), not in softirq
//   busy     the whole machine's non-idle time (xfer's two ends included)
// Reported as medians over the runs of seconds per GB moved. Other work on the
// machine adds to softirq/kworker/busy: compare medians, not single runs (a
// kworker that exits between two readings makes that run's kworker negative).
//
// The figures, and what `engine = auto` chose from them: README.md, "The relay
// engines on lan".
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Lab } from '../lab.js';
import { call } from '../../plugin/src/daemon/client.js';
import type { FlowInfo } from '../../plugin/src/daemon/protocol.js';

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '5' }, size: { type: 'string', default: '500m' }, json: { type: 'string' } } });
const RUNS = Number(args.runs);
const SIZE = args.size!;
const CLK_TCK = 100; // USER_HZ on Linux x86_64

function procSeconds(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch { return 0; }
}

function kworkerSeconds(): number {
  let t = 0;
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    let comm = '';
    try { comm = readFileSync(`/proc/${p}/comm`, 'utf8'); } catch { continue; }
    if (comm.startsWith('kworker')) t += procSeconds(Number(p));
  }
  return t;
}

function cpuLine(): number[] {
  return readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
}

interface Cost { daemon: number; softirq: number; kworker: number; busy: number }

function snapshot(daemonPid: number): Cost {
  const c = cpuLine(); // user nice system idle iowait irq softirq steal
  return {
    daemon: procSeconds(daemonPid), softirq: c[6]! / CLK_TCK, kworker: kworkerSeconds(),
    busy: (c[0]! + c[1]! + c[2]! + c[5]! + c[6]! + c[7]!) / CLK_TCK,
  };
}

type Path = 'direct' | 'user' | 'kernel';
const DOMID: Record<Path, number> = { user: 1, kernel: 2, direct: 3 };

interface Row { path: Path; dir: 'up' | 'down'; run: number; ok: boolean; error?: string; mbps: number; bytes: number; cost: Cost; engineSeen: string }

function median(xs: number[]): number {
  const v = [...xs].sort((a, b) => a - b);
  return v.length === 0 ? NaN : v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
}

async function main(): Promise<void> {
  const lab = await Lab.up({ prefix: 'xkib', link: 'lan' });
  const rows: Row[] = [];
  try {
    for (const d of [1, 2, 3]) await lab.addGuest({ domid: d, profile: 'modern' });
    await lab.startRemoteServer();
    const daemon = await lab.startDaemon('[daemon]\nlog_level = info\n');
    const socket = daemon.socket;
    await call({ op: 'attach', vif: 'vif1.0', options: { engine: 'user' } }, { socket });
    await call({ op: 'attach', vif: 'vif2.0', options: { engine: 'kernel' } }, { socket });
    for (let run = 1; run <= RUNS; run++) {
      for (const path of ['direct', 'user', 'kernel'] as Path[]) {
        for (const dir of ['up', 'down'] as const) {
          let engineSeen = path === 'direct' ? '-' : '?';
          const watch = setTimeout(() => {
            if (path === 'direct') return;
            call<FlowInfo[]>({ op: 'flows', vif: `vif${DOMID[path]}.0` }, { socket })
              .then((f) => { engineSeen = f.map((x) => x.engine).join(',') || 'none'; }, () => undefined);
          }, 500);
          const a = snapshot(daemon.pid);
          const r = await lab.transfer(DOMID[path], { dir, size: SIZE, timeoutSec: 300 });
          const b = snapshot(daemon.pid);
          clearTimeout(watch);
          const t = r.transfers[0]!;
          const cost = { daemon: b.daemon - a.daemon, softirq: b.softirq - a.softirq, kworker: b.kworker - a.kworker, busy: b.busy - a.busy };
          rows.push({ path, dir, run, ok: t.ok, error: t.error, mbps: t.goodput_mbps ?? 0, bytes: t.size, cost, engineSeen });
          process.stderr.write(`run ${run} ${path} ${dir}: ${t.ok ? 'ok' : `FAILED (${t.error})`} ${(t.goodput_mbps ?? 0).toFixed(0)} Mbit/s, daemon ${cost.daemon.toFixed(2)} s, softirq ${cost.softirq.toFixed(2)} s, kworker ${cost.kworker.toFixed(2)} s, busy ${cost.busy.toFixed(2)} s (engine ${engineSeen})\n`);
        }
      }
    }
  } finally {
    await lab.down();
  }
  const lines = ['path    dir   Mbit/s  daemon s/GB  +softirq+kworker s/GB  busy s/GB   (medians of ' + RUNS + ' runs, ' + SIZE + ' each)'];
  const summary: Record<string, unknown>[] = [];
  for (const path of ['direct', 'user', 'kernel'] as Path[]) {
    for (const dir of ['up', 'down'] as const) {
      const all = rows.filter((r) => r.path === path && r.dir === dir);
      const rs = all.filter((r) => r.ok);
      const perGB = (f: (c: Cost) => number) => median(rs.map((r) => f(r.cost) / (r.bytes / 1e9)));
      const s = {
        path, dir, mbps: median(rs.map((r) => r.mbps)), daemon: perGB((c) => c.daemon),
        relay: perGB((c) => c.daemon + c.softirq + c.kworker), busy: perGB((c) => c.busy), engines: [...new Set(rs.map((r) => r.engineSeen))],
        failed: all.length - rs.length,
      };
      summary.push(s);
      lines.push(`${path.padEnd(7)} ${dir.padEnd(5)} ${s.mbps.toFixed(0).padStart(6)}  ${s.daemon.toFixed(2).padStart(11)}  ${s.relay.toFixed(2).padStart(21)}  ${s.busy.toFixed(2).padStart(9)}   ${s.engines.join(' ')}${s.failed ? `  FAILED ${s.failed}/${all.length} (byte-exact check)` : ''}`);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  if (args.json) writeFileSync(args.json, JSON.stringify({ runs: RUNS, size: SIZE, rows, summary }, null, 1));
}

main().catch((e) => { process.stderr.write(`${(e as Error).stack ?? e}\n`); process.exitCode = 1; });
