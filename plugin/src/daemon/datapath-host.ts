// The BPF datapath as xlnetd runs it: loaded once at start into xlnetd's own
// cgroup (failing soft: without it xlnetd splits connections all the same,
// with no BPF tuning, kernel counters or kernel relay, and says so in
// `status`), its tuning slots, and the one place that decides which relay
// engine (user or kernel) a profile gets. Every flow and every vif's
// splice-at-establishment setting asks engineFor(); nothing else compares
// engine names.
import * as libc from '../ffi/libc.js';
import type { Profile } from '../config/index.js';
import { MARK_BASE } from '../steering/rules.js';
import type { RelayEngine } from '../service/split-connection.js';
import { unsplice, type RelayMaps } from '../service/kernel-relay.js';
import { loadDatapath, enterDaemonCgroup, DatapathError, TuningSlots, type Datapath, type DaemonCgroup, type Tuning } from '../datapath/index.js';
import { RequestError } from './request-error.js';
import type { DatapathInfo } from './protocol.js';
import type { Logger } from './log.js';

/**
 * What `engine = auto` means: the kernel engine only once it is correct and
 * its medians on the `lan` bench beat the user engine on throughput without
 * costing more CPU per GB. Today it does not (lab/bench/README.md, "engine =
 * auto", has the measurements), so auto = user.
 */
export const AUTO_ENGINE: RelayEngine = 'user';

/** How long a start waits for the previous instance's helpers to leave the cgroup. */
const CGROUP_BUSY_TRIES = 20, CGROUP_BUSY_WAIT_MS = 100;

export class DatapathHost {
  /** undefined when the datapath is unavailable or off */
  datapath?: Datapath;
  private tuning?: TuningSlots;
  private cgroup?: DaemonCgroup;
  private state: Pick<DatapathInfo, 'state' | 'reason' | 'cgroup'> = { state: 'off' };

  constructor(private readonly log: Logger) {}

  /** Loads the datapath into the cgroup `choice` names (datapath/daemon-cgroup.ts). Never throws. */
  async start(choice: string): Promise<void> {
    if (choice === 'none') {
      this.state = { state: 'off', reason: 'cgroup = none' };
      return;
    }
    try {
      const cg = enterDaemonCgroup(choice)!; // undefined only for none, handled above
      this.cgroup = cg;
      let dp: Datapath | undefined;
      for (let i = 0; ; i++) {
        try { dp = await loadDatapath({ cgroup: cg.path }); break; } catch (e) {
          // The previous instance's helpers (its `nft -i`) may still be leaving.
          if (i >= CGROUP_BUSY_TRIES || !(e instanceof DatapathError) || e.code !== 'E_CGROUP_SHARED') throw e;
          await new Promise((r) => setTimeout(r, CGROUP_BUSY_WAIT_MS));
        }
      }
      this.datapath = dp;
      this.tuning = new TuningSlots(dp);
      this.state = { state: 'loaded', cgroup: cg.path };
      this.log.info(`datapath loaded in cgroup ${cg.path}${dp.relayAvailable ? '' : ` (kernel relay engine unavailable: ${dp.relayError})`}`);
    } catch (e) {
      this.cgroup?.leave();
      this.cgroup = undefined;
      const reason = (e as Error).message;
      this.state = { state: 'unavailable', reason };
      this.log.warn(`datapath unavailable, running without BPF tuning, kernel counters and kernel relay: ${reason}`);
    }
  }

  info(): DatapathInfo {
    if (this.state.state !== 'loaded') return { ...this.state, kernelEngine: false, autoEngine: AUTO_ENGINE };
    const refusal = this.kernelEngineRefusal();
    return { ...this.state, kernelEngine: refusal === undefined, kernelEngineReason: refusal, autoEngine: this.autoEngine() };
  }

  // ---- the engine decision ----------------------------------------------

  /** Why engine = kernel cannot be used here, or undefined when it can. */
  private kernelEngineRefusal(): string | undefined {
    if (this.datapath?.relayAvailable) return undefined;
    const why = this.datapath ? this.datapath.relayError : this.state.reason;
    return `engine = kernel needs the BPF kernel relay, which is not available here (${why ?? 'unknown'}); ` +
      'use engine = user or auto (xlnet status shows the datapath)';
  }

  private autoEngine(): RelayEngine {
    return AUTO_ENGINE === 'kernel' && this.kernelEngineRefusal() === undefined ? 'kernel' : 'user';
  }

  /** The engine a profile gets on this daemon. */
  engineFor(p: Profile): RelayEngine {
    if (p.engine === 'auto') return this.autoEngine();
    if (p.engine === 'kernel' && this.kernelEngineRefusal() !== undefined) return 'user';
    return p.engine;
  }

  /** The relay maps a new flow of profile `p` is spliced with, or undefined for the user engine. */
  relayMapsFor(p: Profile): RelayMaps | undefined {
    return this.engineFor(p) === 'kernel' ? this.datapath : undefined;
  }

  /** Refuses a profile asking for engine = kernel on a daemon that cannot run it. */
  checkEngine(p: Profile): void {
    const refusal = p.engine === 'kernel' ? this.kernelEngineRefusal() : undefined;
    if (refusal) throw new RequestError('E_BAD_OPTION', refusal);
  }

  /** Tells the datapath whether this vif's guest connections are spliced at establishment (its profile's engine; off at detach). */
  syncRelayVif(attachmentId: number, vif: string, profile: Profile | undefined): void {
    if (!this.datapath?.relayAvailable) return;
    const on = profile !== undefined && this.engineFor(profile) === 'kernel';
    try { this.datapath.relayVif(MARK_BASE | attachmentId, on); } catch (e) {
      this.log.warn(`${vif}: kernel relay ${on ? 'not enabled' : 'not disabled'}: ${(e as Error).message}`);
    }
  }

  /** A refused connection may have been spliced at establishment: takes it out of the relay maps. */
  forgetEarlySplice(fd: number): void {
    if (!this.datapath?.relayAvailable) return;
    try { unsplice(this.datapath, libc.socketCookie(fd)); } catch { /* closed */ }
  }

  // ---- sockets and tuning -------------------------------------------------

  /** Registers the transparent listener's sockets: accepted guest legs inherit it (slot 0: no tuning). */
  registerListener(fds: number[]): void {
    if (!this.datapath) return;
    for (const fd of fds) this.datapath.registerSocket(fd, { attachment: 0, profile: 0 });
  }

  /**
   * Moves an accepted guest leg to its attachment and takes a tuning slot for
   * its WAN leg; undefined without a datapath. Throws when the datapath refuses.
   */
  tuneFlow(guestFd: number, attachmentId: number, t: Tuning): { slot: number; registerWan(fd: number, relay: boolean): void; release(): void } | undefined {
    const dp = this.datapath, tuning = this.tuning;
    if (!dp || !tuning) return undefined;
    dp.reassignSocket(guestFd, { attachment: attachmentId, profile: 0 });
    const slot = tuning.acquire(t);
    let released = false;
    return {
      slot,
      registerWan: (fd, relay) => dp.registerSocket(fd, { attachment: attachmentId, profile: slot, relay }),
      release: () => { if (!released) { released = true; tuning.release(slot); } },
    };
  }

  close(): void {
    this.datapath?.close();
    this.datapath = undefined;
    this.cgroup?.leave();
  }
}
