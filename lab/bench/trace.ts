// A time series of the WAN leg's tcp_info, read with `ss -tin` in Dom0 while a
// transfer runs (--trace). It answers why a split upload is slower than the
// link allows: slow start held back by the congestion window, by the remote's
// advertised window (snd_wnd, rwnd_limited) or by our own send buffer
// (sndbuf_limited), or losses (retrans).
import { run } from '../exec.js';

export interface TcpInfoPoint {
  /** ms since the trace started (about the guest's connect()) */
  t: number;
  state: string;
  cwnd: number | null;
  ssthresh: number | null;
  /** the remote's advertised window, bytes */
  sndWnd: number | null;
  bytesSent: number | null;
  bytesAcked: number | null;
  unacked: number | null;
  busyMs: number | null;
  rwndLimitedMs: number | null;
  sndbufLimitedMs: number | null;
  /** retransmitted segments, total */
  retrans: number | null;
  lost: number | null;
  rttMs: number | null;
  pacingBps: number | null;
  deliveryBps: number | null;
}

const num = (re: RegExp, s: string): number | null => {
  const m = re.exec(s);
  return m ? Number(m[1]) : null;
};

/** One socket's ss -tin info line (the line after the address line). */
export function parseTcpInfo(state: string, info: string, t: number): TcpInfoPoint {
  return {
    t, state,
    cwnd: num(/\bcwnd:(\d+)/, info),
    ssthresh: num(/\bssthresh:(\d+)/, info),
    sndWnd: num(/\bsnd_wnd:(\d+)/, info),
    bytesSent: num(/\bbytes_sent:(\d+)/, info),
    bytesAcked: num(/\bbytes_acked:(\d+)/, info),
    unacked: num(/\bunacked:(\d+)/, info),
    busyMs: num(/\bbusy:(\d+)ms/, info),
    rwndLimitedMs: num(/\brwnd_limited:(\d+)ms/, info),
    sndbufLimitedMs: num(/\bsndbuf_limited:(\d+)ms/, info),
    retrans: num(/\bretrans:\d+\/(\d+)/, info),
    lost: num(/\blost:(\d+)/, info),
    rttMs: num(/\brtt:([\d.]+)\//, info),
    pacingBps: num(/\bpacing_rate (\d+)bps/, info),
    deliveryBps: num(/\bdelivery_rate (\d+)bps/, info),
  };
}

/**
 * Samples the WAN leg (Dom0's socket to remote:port) every `everyMs` from
 * its first non-SYN state until it is gone or in TIME-WAIT (the transfer is
 * over), or `maxMs` passed. Sockets already in TIME-WAIT (earlier samples')
 * are ignored.
 */
export async function traceWanLeg(ns: string, remote: string, port: number, everyMs = 100, maxMs = 300_000): Promise<TcpInfoPoint[]> {
  const t0 = Date.now();
  const out: TcpInfoPoint[] = [];
  let goneSince: number | null = null;
  while (Date.now() - t0 < maxMs) {
    const r = await run(['ss', '-Htin', 'dst', `${remote}:${port}`], { ns, allowFail: true });
    const lines = r.stdout.split('\n');
    let found = false;
    for (let i = 0; i + 1 < lines.length; i++) {
      const state = /^(\S+)\s/.exec(lines[i]!)?.[1];
      if (!state || state === 'SYN-SENT' || state === 'TIME-WAIT' || !/\bcwnd:/.test(lines[i + 1]!)) continue;
      out.push(parseTcpInfo(state, lines[i + 1]!, Date.now() - t0));
      found = true;
      break;
    }
    if (found) goneSince = null;
    else if (out.length) {
      goneSince ??= Date.now();
      if (Date.now() - goneSince > 1000) break;
    } else if (Date.now() - t0 > 30_000) break; // never came up: the sample will say why
    await new Promise((res) => setTimeout(res, everyMs));
  }
  return out;
}

export interface TraceSummary {
  points: number;
  busyMs: number | null;
  rwndLimitedMs: number | null;
  sndbufLimitedMs: number | null;
  retrans: number | null;
  maxCwnd: number | null;
  /** per round trip from the first sample: bytes acknowledged in it, cwnd and snd_wnd at its end */
  perRtt: Array<{ ackedKB: number; cwnd: number | null; sndWndKB: number | null; rwndLimitedMs: number | null }>;
}

/** What a trace says in a few numbers; rttMs bins the ramp-up. */
export function summarizeTrace(pts: TcpInfoPoint[], rttMs: number, bins = 8): TraceSummary | null {
  if (!pts.length) return null;
  const last = [...pts].reverse().find((p) => p.state === 'ESTAB') ?? pts[pts.length - 1]!;
  const end = pts[pts.length - 1]!;
  const lastOf = <K extends keyof TcpInfoPoint>(k: K) => [...pts].reverse().find((p) => p[k] !== null)?.[k] ?? null;
  const perRtt: TraceSummary['perRtt'] = [];
  const start = pts[0]!.t;
  let prevAcked = 0;
  for (let b = 1; b <= bins; b++) {
    const upto = pts.filter((p) => p.t <= start + b * rttMs);
    const p = upto[upto.length - 1];
    if (!p) break;
    const acked = p.bytesAcked ?? prevAcked;
    perRtt.push({ ackedKB: Math.round((acked - prevAcked) / 1024), cwnd: p.cwnd, sndWndKB: p.sndWnd === null ? null : Math.round(p.sndWnd / 1024), rwndLimitedMs: p.rwndLimitedMs });
    prevAcked = acked;
    if (p === end) break;
  }
  return {
    points: pts.length,
    busyMs: lastOf('busyMs') as number | null,
    rwndLimitedMs: (lastOf('rwndLimitedMs') as number | null) ?? (last.busyMs !== null ? 0 : null),
    sndbufLimitedMs: (lastOf('sndbufLimitedMs') as number | null) ?? (last.busyMs !== null ? 0 : null),
    retrans: (lastOf('retrans') as number | null) ?? 0,
    maxCwnd: Math.max(...pts.map((p) => p.cwnd ?? 0)),
    perRtt,
  };
}
