// Measurement helpers of the benchmark scripts: paths run side by side in one
// lab (each path is its own guest, so the direct path never touches the
// service), statistics, and the cost counters read from /proc.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import type { Lab, TransferOptions, XferReport, XferTransfer } from '../lab.js';
import { run } from '../exec.js';
import { call } from '../../plugin/src/daemon/client.js';
import { median } from '../scenario.js';

export type PathName = 'direct' | 'localack' | 'haproxy';

/** A way for a guest's TCP to reach the remote: the guest whose vif is steered that way. */
export interface PathSpec { name: PathName; domid: number }

/** What xfer reports per transfer, with the fields the lab's type leaves out. */
export type Transfer = XferTransfer & { connect_ms?: number | null };

export interface Stats { median: number | null; min: number | null; max: number | null; n: number }

export function stats(xs: Array<number | null | undefined>): Stats {
  const v = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return { median: median(v), min: v.length ? Math.min(...v) : null, max: v.length ? Math.max(...v) : null, n: v.length };
}

/** One repetition of one path: xfer's transfers plus the counters read around it. */
export interface Sample {
  run: number;
  path: PathName;
  ok: boolean;
  errors: string[];
  transfers: Array<Pick<Transfer, 'fct_ms' | 'goodput_mbps' | 'ok'> & { connect_ms: number | null; error?: string }>;
  wallMs: number;
  aggregateGoodputMbps: number | null;
  load1: number;
  extra: Record<string, number>;
  /** what a watcher saw while the transfer ran (e.g. the WAN leg's initial cwnd, the relay engine) */
  watched?: unknown;
}

/** Looks at a path while its transfer runs; its result goes into the sample. */
export type Watcher = (p: PathSpec, run: number) => Promise<unknown> | undefined;

/** Counters sampled before and after a repetition (CPU of a process, softirq, flows split). */
export interface Probe {
  name: string;
  read(): Promise<number>;
}

/**
 * Runs `runs` repetitions of every path, interleaved (run i starts with path
 * i mod n) so that drift in the machine's load hits all paths alike.
 */
export async function sideBySide(
  lab: Lab, paths: PathSpec[], opts: TransferOptions, runs: number,
  probes: (p: PathSpec) => Probe[] = () => [], log: (s: string) => void = () => undefined,
  watcher?: Watcher,
): Promise<Sample[]> {
  const out: Sample[] = [];
  for (let i = 0; i < runs; i++) {
    for (let k = 0; k < paths.length; k++) {
      const p = paths[(i + k) % paths.length]!;
      const ps = probes(p);
      const before = await Promise.all(ps.map((x) => x.read()));
      const load1 = loadavg()[0]!;
      const t0 = Date.now();
      let rep: XferReport;
      const watching = watcher?.(p, i)?.catch((e: Error) => ({ error: e.message }));
      try {
        rep = await lab.transfer(p.domid, opts);
      } catch (e) {
        rep = { transfers: [], summary: { error: (e as Error).message } };
      }
      const watched = watching ? await watching : undefined;
      const wallMs = Date.now() - t0;
      const after = await Promise.all(ps.map((x) => x.read()));
      const extra: Record<string, number> = {};
      ps.forEach((x, j) => { extra[x.name] = after[j]! - before[j]!; });
      const ts = rep.transfers as Transfer[];
      const errors = ts.filter((t) => !t.ok || t.sha256_sender !== t.sha256_receiver).map((t) => t.error ?? 'sha256 mismatch');
      if (ts.length < (opts.count ?? 1)) errors.push(`only ${ts.length} of ${opts.count ?? 1} transfers reported${rep.summary.error ? `: ${String(rep.summary.error)}` : ''}`);
      const s: Sample = {
        run: i, path: p.name, ok: errors.length === 0, errors,
        transfers: ts.map((t) => ({ fct_ms: t.fct_ms, goodput_mbps: t.goodput_mbps, ok: t.ok, connect_ms: t.connect_ms ?? null, ...(t.error ? { error: t.error } : {}) })),
        wallMs: typeof rep.summary.wall_ms === 'number' ? rep.summary.wall_ms : wallMs,
        aggregateGoodputMbps: typeof rep.summary.aggregate_goodput_mbps === 'number' ? rep.summary.aggregate_goodput_mbps : null,
        load1, extra, ...(watched !== undefined ? { watched } : {}),
      };
      out.push(s);
      const fct = s.transfers.length === 1 ? `fct ${(s.transfers[0]!.fct_ms / 1000).toFixed(2)} s` : `wall ${(s.wallMs / 1000).toFixed(2)} s`;
      log(`    run ${i + 1}/${runs} ${p.name.padEnd(8)} ${s.ok ? 'ok' : `FAILED (${errors[0]})`} ${fct}` +
        `${s.aggregateGoodputMbps && (opts.count ?? 1) > 1 ? `, ${s.aggregateGoodputMbps.toFixed(0)} Mbit/s` : ''}, load ${load1.toFixed(2)}`);
    }
  }
  return out;
}

/** user + system CPU seconds of a process (all its threads), from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  // fields after "pid (comm) ": state is [0]; utime is field 14 overall = [11], stime [12]
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/** Machine-wide softirq CPU seconds (all CPUs, all namespaces), from /proc/stat. */
export function softirqSeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith('cpu '))!;
  const f = line.trim().split(/\s+/);
  return Number(f[7]) / CLK_TCK; // cpu user nice system idle iowait irq softirq
}

export const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

export interface SkMem { local: string; peer: string; rmem: number; wmem: number; backlog: number; total: number; bytesAcked: number }

/**
 * Kernel memory of the TCP sockets in a namespace that carry traffic to or
 * from `port` (both legs of split connections): receive queue + send queue
 * (the larger of allocated and queued) + backlog, from `ss -m`.
 */
export async function socketMemory(ns: string, port: number): Promise<SkMem[]> {
  const r = await run(['ss', '-Htmin', 'state', 'established', `( dport = :${port} or sport = :${port} )`], { ns });
  const out: SkMem[] = [];
  const lines = r.stdout.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /skmem:\(r(\d+),rb\d+,t(\d+),tb\d+,f\d+,w(\d+),o\d+,bl(\d+)/.exec(lines[i]!);
    if (!m) continue;
    // ss puts the addresses on the line before skmem (or on the same line)
    const addrLine = /\d+\s+\d+\s+(\S+)\s+(\S+)/.exec(lines[i]!) ?? /\d+\s+\d+\s+(\S+)\s+(\S+)/.exec(lines[i - 1] ?? '');
    const rmem = Number(m[1]), wmem = Math.max(Number(m[2]), Number(m[3])), backlog = Number(m[4]);
    const acked = /bytes_acked:(\d+)/.exec(lines[i]!);
    out.push({ local: addrLine?.[1] ?? '?', peer: addrLine?.[2] ?? '?', rmem, wmem, backlog, total: rmem + wmem + backlog, bytesAcked: Number(acked?.[1] ?? 0) });
  }
  return out;
}

/**
 * The WAN leg's congestion window as first seen once established (polled
 * every 50 ms): over a long RTT that is the initial window, whoever set it
 * (route, BPF TCP_BPF_IW, kernel default 10). Also the relay engine xlnetd
 * reports for the flow.
 */
export async function watchWanLeg(ns: string, socket: string, remote: string, port: number, forMs = 2500): Promise<{ initialCwnd: number | null; cc: string | null; engine: string | null; counters: string | null }> {
  const t0 = Date.now();
  let cwnd: number | null = null, cc: string | null = null, engine: string | null = null, counters: string | null = null;
  while (Date.now() - t0 < forMs && (cwnd === null || engine === null)) {
    if (cwnd === null) {
      // no state filter: a short upload's WAN leg is already in FIN-WAIT when it gets established
      const r = await run(['ss', '-Htin', 'dst', `${remote}:${port}`], { ns, allowFail: true });
      const lines = r.stdout.split('\n');
      for (let i = 0; i + 1 < lines.length; i++) {
        const state = /^(\S+)\s/.exec(lines[i]!)?.[1];
        const m = /cwnd:(\d+)/.exec(lines[i + 1]!);
        if (!state || !m || state === 'SYN-SENT') continue;
        cwnd = Number(m[1]);
        cc = /^\s*(\w+)\s/.exec(lines[i + 1]!)?.[1] ?? null;
        break;
      }
    }
    if (engine === null) {
      const flows = await call<Array<{ engine: string; counters?: string }>>({ op: 'flows' }, { socket }).catch(() => []);
      if (flows.length) { engine = flows[0]!.engine; counters = flows[0]!.counters ?? null; }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { initialCwnd: cwnd, cc, engine, counters };
}

/** The WAN leg's initial congestion window as Dom0's routes set it (kernel default 10 when absent). */
export async function routeInitcwnd(ns: string): Promise<string> {
  const r = await run(['ip', 'route', 'show', 'default'], { ns, allowFail: true });
  const m = /initcwnd (\d+)/.exec(r.stdout);
  return m ? `${m[1]} (route)` : '10 (kernel default: no initcwnd on the route, the service does not set one)';
}

export function gitCommit(repo: string): string {
  try { return execFileSync('git', ['-C', repo, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(); } catch { return 'unknown'; }
}

export function ratio(a: number | null, b: number | null): number | null {
  return a !== null && b !== null && b !== 0 ? a / b : null;
}

export function fmtRatio(x: number | null, digits = 2): string {
  return x === null ? '-' : `${x.toFixed(digits)}x`;
}

/** "median (min-max)" with a unit formatter. */
export function fmtStats(s: Stats, f: (x: number) => string): string {
  if (s.median === null) return 'failed';
  return `${f(s.median)} (${f(s.min!)}-${f(s.max!)})`;
}

export const sec = (ms: number) => (ms / 1000).toFixed(ms >= 10_000 ? 1 : 2);
export const mib = (b: number) => (b / 1048576).toFixed(1);
