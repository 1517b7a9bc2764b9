// The flow table: every split connection xlnetd runs, from the moment it is
// admitted to its end. It is the one owner of a flow's lifecycle (it creates
// the SplitConnection, gives it the only hooks it has, and learns of its end),
// of the counts per vif and in total, and of the limits a new flow is checked
// against (admit).
import net from 'node:net';
import type { Profile } from '../config/index.js';
import { SplitConnection, type Endpoint, type SplitHooks } from '../service/split-connection.js';
import type { RelayMaps } from '../service/kernel-relay.js';
import type { LegSettings } from '../service/tcp-options.js';
import type { Handover, KeptFlow } from '../keeper/handover.js';
import type { FlowInfo, Options } from './protocol.js';
import type { Logger } from './log.js';

/** A vif's flow counts; only the flow table changes them. */
export interface VifFlowCounts {
  /** flows running now */
  open: number;
  /** flows split since the attachment */
  total: number;
  /** connections that reached xlnetd and were not split (a limit, the destination check) */
  refused: number;
  /** bytes of flows that ended (live flows' bytes are added by vifBytes) */
  closedUp: number;
  closedDown: number;
}

export function newVifFlowCounts(): VifFlowCounts {
  return { open: 0, total: 0, refused: 0, closedUp: 0, closedDown: 0 };
}

/** What the flow table needs to know of the vif a flow belongs to. */
export interface FlowVif { id: number; vif: string; counts: VifFlowCounts }

/** What the flow table asks of the vif's steering. */
export interface FlowSteering<V extends FlowVif> {
  /** the WAN leg could not keep the guest's port: its replies must be diverted too */
  rememberTuple(vif: V, wanLocal: Endpoint, dst: Endpoint): Promise<void>;
  /** a flow ended (counted already): its tuples can be forgotten, a draining vif may be done */
  flowEnded(vif: V, flow: SplitConnection): void;
}

/** Per-flow resources the flow returns when it ends. */
export interface FlowTuning {
  registerWan(fd: number, relay: boolean): void;
  release(): void;
}

export interface OpenFlow<V extends FlowVif> {
  vif: V;
  guestSock: net.Socket;
  guest: Endpoint;
  dst: Endpoint;
  profile: Profile;
  /** the kernel relay maps when the flow uses the kernel engine (DatapathHost.relayMapsFor) */
  relayMaps?: RelayMaps;
  tuning?: FlowTuning;
  listenerGuest?: LegSettings;
  /** the vif's profile options (a restarted xlnetd rebuilds the profile from its name and these) */
  options: Options;
}

/** What the flow table asks of the keeper (keeper/handover.ts): copies of each flow's sockets. */
export type FlowKeeper = Pick<Handover, 'keepFlow' | 'dropFlow' | 'renameFlow' | 'resetFlow'>;

const RATE_SAMPLE_MS = 1000;

export class FlowTable<V extends FlowVif> {
  private readonly flows = new Map<number, SplitConnection>();
  private nextId = 1;
  /** flows and bytes of flows that ended, since start */
  private readonly ended = { flows: 0, up: 0, down: 0 };
  private timer?: NodeJS.Timeout;
  /** set when a keeper holds the flows' sockets across restarts */
  keeper?: FlowKeeper;

  constructor(
    private readonly limits: () => { maxFlows: number },
    private readonly steering: FlowSteering<V>,
    private readonly log: Logger,
  ) {}

  get size(): number { return this.flows.size; }

  /** Why a new flow of `vif` must not be split (a limit reached), or undefined. */
  admit(_vif: V): string | undefined {
    const { maxFlows } = this.limits();
    if (this.flows.size >= maxFlows) return `max_flows ${maxFlows} reached`;
    return undefined;
  }

  /** Counts a connection of `vif` that was not split. */
  refused(vif: V): void { vif.counts.refused++; }

  /** The id the next flow gets (for log lines before it opens). */
  allocateId(): number { return this.nextId++; }

  /** Starts a flow admitted with allocateId()'s id; the flow table owns it until it ends. */
  open(id: number, o: OpenFlow<V>): SplitConnection {
    const { vif, tuning } = o;
    const hooks: SplitHooks = {
      rememberTuple: (_g, wanLocal, d) => this.steering.rememberTuple(vif, wanLocal, d),
      closed: (f, reason) => {
        tuning?.release();
        this.closed(vif, f, reason);
      },
      log: (level, msg) => this.log.log(level, msg),
      listenerGuest: o.listenerGuest,
      registerWan: tuning?.registerWan,
      opened: (f, guestFd, wanFd) => this.keeper?.keepFlow(f, guestFd, wanFd, { profile: o.profile.name, options: o.options }),
    };
    const flow = new SplitConnection(id, vif.vif, vif.id, o.guestSock, o.guest, o.dst, o.profile, hooks, o.relayMaps);
    this.flows.set(id, flow);
    vif.counts.open++;
    vif.counts.total++;
    this.log.debug(`${vif.vif}: flow ${id} ${o.guest.ip}:${o.guest.port} -> ${o.dst.ip}:${o.dst.port}`);
    flow.start().catch((e: Error) => {
      this.log.warn(`${vif.vif}: flow ${id} to ${o.dst.ip}:${o.dst.port} failed: ${e.message}`);
      flow.abort(e.message);
    });
    return flow;
  }

  /**
   * Takes over the flows a previous xlnetd handed to the keeper. `resolve`
   * finds a kept flow's vif and profile (or says why not); a flow that cannot
   * go on (its vif is gone, a leg closed, bytes lost) is reset.
   */
  adopt(kept: KeptFlow[], resolve: (k: KeptFlow) => { vif: V; profile: Profile } | string): void {
    let adopted = 0;
    const refused: string[] = [];
    for (const k of kept) {
      const m = k.meta;
      const id = this.nextId++;
      const r = resolve(k);
      const flow = typeof r === 'string' ? r : SplitConnection.adopt(id, r.vif.vif, r.vif.id, k.guestFd, k.wanFd, m, r.profile, {
        rememberTuple: async () => undefined, // the WAN leg is bound already
        closed: (f, reason) => this.closed(r.vif, f, reason),
        log: (level, msg) => this.log.log(level, msg),
      });
      if (typeof flow === 'string') {
        refused.push(flow);
        this.log.warn(`flow ${m.guest.ip}:${m.guest.port} -> ${m.dst.ip}:${m.dst.port} not taken over, reset: ${flow}`);
        this.keeper?.resetFlow(k);
        continue;
      }
      const vif = (r as { vif: V }).vif;
      this.flows.set(id, flow);
      vif.counts.open++;
      vif.counts.total++;
      this.keeper?.renameFlow(m.id, flow);
      adopted++;
    }
    if (kept.length) this.log.info(`adopted ${adopted} flow(s) from the previous xlnetd${refused.length ? `, reset ${refused.length}` : ''}`);
  }

  /**
   * Stops relaying every flow for the keeper to hold (at most `ms`). Returns
   * the bytes still in xlnetd (lost at exit) and the flows whose engine
   * cannot tell (kernel engine, still connecting).
   */
  async handOverAll(ms: number): Promise<{ flows: number; stuck: number; unknown: number }> {
    const left = await Promise.all([...this.flows.values()].map((f) => f.handOver(ms)));
    return { flows: left.length, stuck: left.filter((n) => n > 0).reduce((a, b) => a + b, 0), unknown: left.filter((n) => n < 0).length };
  }

  private closed(vif: V, f: SplitConnection, reason: string): void {
    this.flows.delete(f.id);
    this.keeper?.dropFlow(f.id);
    this.ended.flows++;
    this.ended.up += f.bytesUp;
    this.ended.down += f.bytesDown;
    vif.counts.open--;
    vif.counts.closedUp += f.bytesUp;
    vif.counts.closedDown += f.bytesDown;
    this.log.debug(`flow ${f.id} closed (${reason}): up ${f.bytesUp} down ${f.bytesDown}`);
    this.steering.flowEnded(vif, f);
  }

  private ofVif(id: number): SplitConnection[] {
    return [...this.flows.values()].filter((f) => f.attachmentId === id);
  }

  /** Resets every flow of the vif (detach with reset). */
  abortVif(id: number, reason: string): void {
    for (const f of this.ofVif(id)) f.abort(reason);
  }

  /** The vif is gone: its flows deliver what was acknowledged to the guest, then end. */
  vifVanished(id: number): void {
    for (const f of this.ofVif(id)) f.guestVanished();
  }

  /** Bytes of the vif's flows, ended and running. */
  vifBytes(vif: V): { up: number; down: number } {
    let up = vif.counts.closedUp, down = vif.counts.closedDown;
    for (const f of this.ofVif(vif.id)) { up += f.bytesUp; down += f.bytesDown; }
    return { up, down };
  }

  /** Totals since start, for status. */
  totals(): { open: number; total: number; up: number; down: number; buffered: number; kernelFlows: number } {
    let up = this.ended.up, down = this.ended.down, buffered = 0, kernelFlows = 0;
    for (const f of this.flows.values()) {
      up += f.bytesUp; down += f.bytesDown;
      buffered += (f.guestSock.writableLength ?? 0) + (f.wan?.writableLength ?? 0);
      if (f.engine === 'kernel') kernelFlows++;
    }
    return { open: this.flows.size, total: this.ended.flows + this.flows.size, up, down, buffered, kernelFlows };
  }

  /**
   * The flows (of one vif, or all). `kernelFlow` reads the WAN leg's TCP
   * counters from the datapath, when it runs.
   */
  info(vif?: string, kernelFlow?: (cookie: bigint) => { bytesAcked: number; bytesReceived: number } | undefined): FlowInfo[] {
    const out: FlowInfo[] = [];
    const now = Date.now();
    const ep = (e: Endpoint) => (net.isIPv6(e.ip) ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`);
    for (const f of this.flows.values()) {
      if (vif && f.vif !== vif) continue;
      const relayedUp = f.bytesUp, relayedDown = f.bytesDown;
      let bytesUp = relayedUp, bytesDown = relayedDown, counters: FlowInfo['counters'] = 'relay';
      const k = f.wanCookie !== undefined ? kernelFlow?.(f.wanCookie) : undefined;
      if (k) {
        // The WAN leg's own TCP counters count sequence space: the SYN (active
        // open) and a FIN each take one. Acked bytes beyond what was relayed are the FIN.
        bytesUp = Math.max(0, Math.min(k.bytesAcked - 1, relayedUp));
        bytesDown = Math.max(0, k.bytesReceived - (f.remoteEnded ? 1 : 0));
        counters = 'kernel';
      }
      out.push({
        id: f.id, vif: f.vif, guest: ep(f.guest), remote: ep(f.dst), wanLocal: ep(f.wanLocal), state: f.state,
        ageMs: now - f.startedAt, bytesUp, bytesDown,
        rateUpBps: Math.round(f.rateUp), rateDownBps: Math.round(f.rateDown), engine: f.engine,
        relayedUp, relayedDown, counters, kernelQueued: f.kernelQueued,
      });
    }
    return out;
  }

  /** Samples every flow's rates once a second (flows' `rateUp`/`rateDown`). */
  startSampling(): void {
    this.timer = setInterval(() => {
      const now = Date.now();
      for (const f of this.flows.values()) f.sampleRates(now);
    }, RATE_SAMPLE_MS);
  }

  stopSampling(): void { clearInterval(this.timer); }

  /** Resets every flow (xlnetd stopping). */
  abortAll(reason: string): void {
    for (const f of [...this.flows.values()]) f.abort(reason);
  }
}
