// Datapath: the loaded BPF objects of one xlnetd, attached to its cgroup
// (loader.ts), and the typed operations on their maps. Made by
// loadDatapath(); close() detaches and unloads everything (bpf_links and object fds: if the process dies
// instead, the kernel drops them the same way).
import { readFileSync } from 'node:fs';
import * as bpf from '../ffi/libbpf.js';
import { SysError } from '../ffi/libc.js';
import { DatapathError } from './datapath-error.js';
import * as L from './layout.js';
import { MAX_PROFILES } from './layout.js';
import { loadObjects, unload, type DatapathOptions, type Loaded, type MapName, type RelayMapName } from './loader.js';

export { DEFAULT_OBJECT_DIR, type DatapathOptions } from './loader.js';

const MAX_CWND = 65535; // segments; larger windows are a configuration mistake
const MAX_BUF = 0x7fffffff; // setsockopt takes an int

/** A tuning profile; an omitted or 0 field keeps the kernel default. */
export interface Tuning {
  /** Initial congestion window, segments. */
  initcwnd?: number;
  /** Congestion control name (one of net.ipv4.tcp_available_congestion_control). */
  cc?: string;
  /** SO_SNDBUF / SO_RCVBUF as given to setsockopt: the kernel doubles the value
   * and caps it at net.core.wmem_max / rmem_max; setting one turns autotuning off. */
  sndbuf?: number;
  rcvbuf?: number;
  /** Upper bound of the congestion window, segments. */
  cwndClamp?: number;
}

export interface Registration {
  /** The attachment (vif) the socket belongs to; counters are grouped by it. */
  attachment: number;
  /** Tuning profile index, 0..MAX_PROFILES-1 (see setTuning). */
  profile: number;
  /** A WAN leg for the kernel relay engine: spliced into the relay maps at establishment. */
  relay?: boolean;
}

export interface VifCounters extends L.Counters {
  attachment: number;
  leg: L.Leg;
  /** Flows seen on this attachment and leg (closed and live). */
  flows: number;
  liveFlows: number;
}


function available(): string[] {
  try {
    return readFileSync('/proc/sys/net/ipv4/tcp_available_congestion_control', 'utf8').trim().split(/\s+/);
  } catch { return []; }
}

function checkCount(what: string, v: number | undefined, max: number): number {
  if (v === undefined) return 0;
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new DatapathError('E_BAD_TUNING', `${what} = ${v}: not an integer in 0..${max} (0 keeps the kernel default)`);
  }
  return v;
}

export class Datapath {
  private loaded: Loaded | undefined;

  private constructor(loaded: Loaded, readonly cgroup: string, readonly relayError: string | undefined) {
    this.loaded = loaded;
  }

  /** Opens, loads and attaches (loader.ts); on any failure nothing stays in the kernel. */
  static load(opts: DatapathOptions): Datapath {
    const { loaded, relayError } = loadObjects(opts);
    return new Datapath(loaded, opts.cgroup, relayError);
  }

  private get l(): Loaded {
    if (!this.loaded) throw new DatapathError('E_CLOSED', 'the datapath is closed');
    return this.loaded;
  }

  /** The fd of a map, for a process that writes it directly (the datapath tests' socket agent). */
  mapFd(name: MapName): number {
    return this.l.maps[name];
  }

  /** Sets tuning profile `profile` (0..MAX_PROFILES-1). Sockets established after
   * this call use it; established sockets keep what they got. */
  setTuning(profile: number, t: Tuning): void {
    checkProfile(profile, 'E_BAD_TUNING');
    const cc = t.cc ?? '';
    if (cc !== '' && !available().includes(cc)) {
      throw new DatapathError('E_BAD_TUNING', `congestion control "${cc}" is not available in this kernel (available: ${available().join(' ')})`);
    }
    const v: L.TuningValues = {
      initcwnd: checkCount('initcwnd', t.initcwnd, MAX_CWND),
      cwndClamp: checkCount('cwndClamp', t.cwndClamp, MAX_CWND),
      sndbuf: checkCount('sndbuf', t.sndbuf, MAX_BUF),
      rcvbuf: checkCount('rcvbuf', t.rcvbuf, MAX_BUF),
      cc,
    };
    bpf.mapUpdate(this.l.maps.xlnet_profiles, L.u32Key(profile), L.encodeTuning(v));
  }

  getTuning(profile: number): L.TuningValues {
    checkProfile(profile, 'E_BAD_TUNING');
    return L.decodeTuning(bpf.mapLookup(this.l.maps.xlnet_profiles, L.u32Key(profile), L.SIZES.tuning)!);
  }

  /** Marks a socket as xlnet's: tuned by its profile, counted under its
   * attachment. WAN leg: call before connect(). Guest leg: call on the
   * transparent listener; every socket it accepts inherits the registration. */
  registerSocket(fd: number, reg: Registration): void {
    checkProfile(reg.profile, 'E_REGISTER');
    if (!Number.isInteger(reg.attachment) || reg.attachment < 0 || reg.attachment > 0xffffffff) {
      throw new DatapathError('E_REGISTER', `attachment id ${reg.attachment} is not a 32-bit unsigned integer`);
    }
    try {
      bpf.mapUpdate(this.l.maps.xlnet_sk, L.fdKey(fd), L.encodeSk(reg.attachment, reg.profile, reg.relay ? L.SK_RELAY : 0));
    } catch (e) {
      const hint = e instanceof SysError && e.code === 'EBADF' ? ' (not an open socket fd)' : '';
      throw new DatapathError('E_REGISTER', `cannot register fd ${fd}: ${(e as Error).message}${hint}`, { cause: e });
    }
  }

  /** Removes a socket's registration (its flow record, if any, stays). */
  unregisterSocket(fd: number): boolean {
    return bpf.mapDelete(this.l.maps.xlnet_sk, L.fdKey(fd));
  }

  /** A registered socket's state: its cookie once established, refused settings. */
  socketState(fd: number): L.SocketState | undefined {
    const b = bpf.mapLookup(this.l.maps.xlnet_sk, L.fdKey(fd), L.SIZES.sk);
    return b && L.decodeSk(b);
  }

  flow(cookie: bigint): L.FlowCounters | undefined {
    const k = L.cookieKey(cookie);
    const b = bpf.mapLookup(this.l.maps.xlnet_flows, k, L.SIZES.flow);
    return b && L.decodeFlow(k, b);
  }

  /** Every flow record: live flows and closed ones not yet forgotten. */
  flowCounters(): L.FlowCounters[] {
    const fd = this.l.maps.xlnet_flows;
    const out: L.FlowCounters[] = [];
    for (const k of bpf.mapKeys(fd, L.SIZES.cookie)) {
      const b = bpf.mapLookup(fd, k, L.SIZES.flow);
      if (b) out.push(L.decodeFlow(k, b));
    }
    return out;
  }

  /** Drops a flow record (after its final numbers were read). */
  forgetFlow(cookie: bigint): boolean {
    return bpf.mapDelete(this.l.maps.xlnet_flows, L.cookieKey(cookie));
  }

  /** Per attachment and leg: totals of closed flows plus the live flows' counters.
   * Closed totals are read first: a flow closing during the read can be missed
   * by that one read, never counted twice. */
  vifCounters(): VifCounters[] {
    const byKey = new Map<string, VifCounters>();
    const entry = (attachment: number, leg: L.Leg): VifCounters => {
      const key = `${attachment}/${leg}`;
      let v = byKey.get(key);
      if (!v) {
        v = { attachment, leg, bytesAcked: 0, bytesReceived: 0, segsOut: 0, segsIn: 0, flows: 0, liveFlows: 0 };
        byKey.set(key, v);
      }
      return v;
    };
    const closedFd = this.l.maps.xlnet_vif_closed;
    for (const k of bpf.mapKeys(closedFd, L.SIZES.vifKey)) {
      const b = bpf.mapLookup(closedFd, k, L.SIZES.vifTotals);
      if (!b) continue;
      const { attachment, leg } = L.decodeVifKey(k);
      const t = L.decodeVifTotals(b);
      const v = entry(attachment, leg);
      v.bytesAcked += t.bytesAcked; v.bytesReceived += t.bytesReceived;
      v.segsOut += t.segsOut; v.segsIn += t.segsIn; v.flows += t.flows;
    }
    for (const f of this.flowCounters()) {
      if (f.closed) continue;
      const v = entry(f.attachment, f.leg);
      v.bytesAcked += f.bytesAcked; v.bytesReceived += f.bytesReceived;
      v.segsOut += f.segsOut; v.segsIn += f.segsIn; v.flows += 1; v.liveFlows += 1;
    }
    return [...byKey.values()].sort((a, b) => a.attachment - b.attachment || a.leg.localeCompare(b.leg));
  }

  /** After a vif detached and its flows ended: drop its totals and closed flows. */
  forgetAttachment(attachment: number): void {
    for (const leg of [L.LEG_GUEST, L.LEG_WAN]) bpf.mapDelete(this.l.maps.xlnet_vif_closed, L.encodeVifKey(attachment, leg));
    for (const f of this.flowCounters()) if (f.attachment === attachment && f.closed) this.forgetFlow(f.cookie);
  }

  // ---- kernel relay engine (relay.bpf.c) --------------------------------

  /** True when relay.bpf.o loaded and its verdict is attached. */
  get relayAvailable(): boolean {
    return !!this.loaded?.relay;
  }

  private get r(): Record<RelayMapName, number> {
    const relay = this.l.relay;
    if (!relay) throw new DatapathError('E_CLOSED', `the kernel relay engine is not loaded: ${this.relayError ?? 'unknown reason'}`);
    return relay.maps;
  }

  /** Puts a socket into a relay map: `targets` makes it a redirect target,
   * `sources` starts the verdict on what it receives. Throws the kernel's
   * SysError: EOPNOTSUPP (the socket is not established, e.g. got a FIN),
   * EEXIST (already there: never replaced, a replacement restarts the verdict). */
  relayInsert(which: 'targets' | 'sources', cookie: bigint, fd: number): void {
    bpf.mapUpdate(this.r[`xlnet_relay_${which}`], L.cookieKey(cookie), L.u32Key(fd), bpf.BPF_NOEXIST);
  }

  /** Takes a socket out of a relay map (true when it was in). */
  relayRemove(which: 'targets' | 'sources', cookie: bigint): boolean {
    return bpf.mapDelete(this.r[`xlnet_relay_${which}`], L.cookieKey(cookie));
  }

  /** Sets a direction's control block (keyed by its source socket); the first
   * call also creates its zeroed statistics. */
  relaySetCtl(source: bigint, ctl: L.RelayCtl): void {
    const key = L.cookieKey(source);
    if (!bpf.mapLookup(this.r.xlnet_relay_stat, key, L.SIZES.relayStat)) {
      bpf.mapUpdate(this.r.xlnet_relay_stat, key, Buffer.alloc(L.SIZES.relayStat));
    }
    bpf.mapUpdate(this.r.xlnet_relay_ctl, key, L.encodeRelayCtl(ctl));
  }

  relayStat(source: bigint): L.RelayStat | undefined {
    const b = bpf.mapLookup(this.r.xlnet_relay_stat, L.cookieKey(source), L.SIZES.relayStat);
    return b && L.decodeRelayStat(b);
  }

  /** Whether connections whose SYN carried `mark` (an attachment's) are spliced at establishment. */
  relayVif(mark: number, on: boolean): void {
    if (on) bpf.mapUpdate(this.r.xlnet_relay_vifs, L.u32Key(mark >>> 0), L.u32Key(1));
    else bpf.mapDelete(this.r.xlnet_relay_vifs, L.u32Key(mark >>> 0));
  }

  /** Drops a direction's control block and statistics. */
  relayForget(source: bigint): void {
    bpf.mapDelete(this.r.xlnet_relay_ctl, L.cookieKey(source));
    bpf.mapDelete(this.r.xlnet_relay_stat, L.cookieKey(source));
  }

  /** Entries in the relay maps (for tests and leak checks). */
  relayCounts(): Record<'targets' | 'sources' | 'ctl' | 'stat', number> {
    const r = this.r;
    return {
      targets: bpf.mapKeys(r.xlnet_relay_targets, L.SIZES.cookie).length,
      sources: bpf.mapKeys(r.xlnet_relay_sources, L.SIZES.cookie).length,
      ctl: bpf.mapKeys(r.xlnet_relay_ctl, L.SIZES.cookie).length,
      stat: bpf.mapKeys(r.xlnet_relay_stat, L.SIZES.cookie).length,
    };
  }

  /** Re-registers a socket (an accepted guest leg: the listener's registration
   * names no vif) keeping what BPF learned about it (cookie, refusals). */
  reassignSocket(fd: number, reg: Registration): void {
    checkProfile(reg.profile, 'E_REGISTER');
    const key = L.fdKey(fd);
    try {
      const b = bpf.mapLookup(this.l.maps.xlnet_sk, key, L.SIZES.sk) ?? Buffer.alloc(L.SIZES.sk);
      b.writeUInt32LE(reg.attachment, 0);
      b.writeUInt32LE(reg.profile, 4);
      bpf.mapUpdate(this.l.maps.xlnet_sk, key, b);
    } catch (e) {
      throw new DatapathError('E_REGISTER', `cannot register fd ${fd}: ${(e as Error).message}`, { cause: e });
    }
  }

  get closed(): boolean {
    return this.loaded === undefined;
  }

  /** Detaches every program and unloads programs and maps. Idempotent. */
  close(): void {
    if (!this.loaded) return;
    const l = this.loaded;
    this.loaded = undefined;
    unload(l);
  }
}

function checkProfile(profile: number, code: 'E_BAD_TUNING' | 'E_REGISTER'): void {
  if (!Number.isInteger(profile) || profile < 0 || profile >= MAX_PROFILES) {
    throw new DatapathError(code, `profile index ${profile} is out of range 0..${MAX_PROFILES - 1}`);
  }
}
