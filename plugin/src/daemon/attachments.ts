// The attachments: which vifs have the service, with which profile, and
// their steering (the nftables objects each one has, and the reply chain all
// bridged ones share). Attach, detach (drain or reset) and set run while
// traffic flows and never disturb a flow already running: a flow keeps the
// profile it started with. Every change is saved (state-store.ts) so a
// restart re-attaches.
import { existsSync } from 'node:fs';
import type { XlnetConfig } from '../config/index.js';
import { isVifName, VIF_NAME_RULE } from '../config/vif-name.js';
import type { NftSession } from '../steering/nft-session.js';
import {
  attachmentRules, detachRules, forgetFlowRule, newFlowsDirectRules, rememberFlowRule, replyChainRules, scopeRules, selectorRules, stopNewFlowsRules,
  type AttachmentSteering,
} from '../steering/rules.js';
import { routeScope, type RouteScope } from '../steering/routes.js';
import type { Endpoint, SplitConnection } from '../service/split-connection.js';
import { VifAttachment, vifPlacement } from './attachment.js';
import { profileFor } from './profile-options.js';
import type { DatapathHost } from './datapath-host.js';
import { MAX_VIFS } from '../datapath/index.js';
import type { FlowSteering, FlowTable } from './flow-table.js';
import type { ScopedAttachments } from './routing.js';
import type { StateStore } from './state-store.js';
import { RequestError } from './request-error.js';
import type { AttachmentInfo, DetachMode, Options } from './protocol.js';
import type { Logger } from './log.js';

/** A closed flow's tuple stays diverted this long, so the last ACKs of its close reach Dom0. */
const FORGET_DELAY_MS = 10_000;

export interface AttachmentsDeps {
  config: () => XlnetConfig;
  nft: NftSession;
  host: DatapathHost;
  flows: () => FlowTable<VifAttachment>;
  store: StateStore;
  log: Logger;
  /** false when Dom0's loopback has no IPv6: IPv6 SYNs are not diverted */
  ipv6: () => boolean;
  /** takes the batch that makes every vif's new connections go direct, whenever it changes (the keeper runs it if xlnetd dies) */
  onExitRules?: (nft: string[]) => void;
}

export class Attachments implements ScopedAttachments, FlowSteering<VifAttachment> {
  private readonly byVif = new Map<string, VifAttachment>();
  private readonly byId = new Map<number, VifAttachment>();

  constructor(private readonly d: AttachmentsDeps) {}

  get size(): number { return this.byVif.size; }
  all(): IterableIterator<VifAttachment> { return this.byVif.values(); }
  byMarkId(id: number): VifAttachment | undefined { return this.byId.get(id); }

  private get maxFlows(): number { return this.d.config().daemon.max_flows; }

  /** The lowest free id (or the one it had before a restart: the kept flow sets and marks carry it):
   * at most MAX_VIFS, what the datapath's maps hold and the fwmark's 16 bits carry. */
  private allocateId(wanted?: number): number {
    if (wanted && wanted <= MAX_VIFS && !this.byId.has(wanted)) return wanted;
    for (let id = 1; id <= MAX_VIFS; id++) if (!this.byId.has(id)) return id;
    throw new RequestError('E_LIMIT', `${MAX_VIFS} vifs are attached (the most xlnetd runs); detach one first`);
  }

  /** An attachment's steering as this daemon runs it. */
  private steer(att: VifAttachment): AttachmentSteering {
    return { ...att.steering(this.maxFlows), ipv6: this.d.ipv6() };
  }

  private replyRules(): string[] {
    return replyChainRules([...this.byVif.values()].map((a) => this.steer(a)));
  }

  /** Every vif's SYN rules out in one batch, established flows keep theirs (a stop; the keeper if xlnetd dies). */
  newFlowsDirect(): string[] {
    return newFlowsDirectRules([...this.byVif.values()].map((a) => this.steer(a)));
  }

  private syncOnExit(): void { this.d.onExitRules?.(this.newFlowsDirect()); }

  async attach(vif: string, profileName?: string, options: Options = {}, domain?: string, required = false, id?: number): Promise<AttachmentInfo> {
    if (!isVifName(vif)) throw new RequestError('E_BAD_REQUEST', `'${vif}' is not a network interface name xlnet takes (${VIF_NAME_RULE})`);
    const had = this.byVif.get(vif);
    if (had) {
      if (had.state === 'draining') throw new RequestError('E_ALREADY_ATTACHED', `${vif} is still draining from a detach; try again when its flows have ended`);
      throw new RequestError('E_ALREADY_ATTACHED', `${vif} is already attached (profile ${had.profile.name}); use 'set' to change it`);
    }
    const placement = vifPlacement(vif);
    if (!placement) throw new RequestError('E_NO_VIF', `no network interface ${vif} in Dom0`);
    const profile = profileFor(this.d.config(), profileName, options);
    this.d.host.checkEngine(profile);
    const att = new VifAttachment(this.allocateId(id), vif, placement, profile, { ...options }, domain, required);
    if (placement.mode === 'bridge') att.scope = await routeScope(placement.bridge!);
    this.byId.set(att.id, att);
    this.byVif.set(vif, att);
    try {
      await this.d.nft.atomically([...attachmentRules(this.steer(att)), ...this.replyRules()]);
    } catch (e) {
      this.byId.delete(att.id);
      this.byVif.delete(vif);
      throw new RequestError('E_STEERING', `cannot install the rules for ${vif}: ${(e as Error).message}`);
    }
    this.d.host.syncRelayVif(att.id, vif, att.profile);
    this.save();
    this.syncOnExit();
    this.d.log.info(`attached ${vif} (${placement.mode}${placement.bridge ? ` on ${placement.bridge}` : ''}) profile ${profile.name}${domain ? ` domain ${domain}` : ''}`);
    return this.info(att);
  }

  async detach(vif: string, mode: DetachMode = 'drain'): Promise<AttachmentInfo> {
    const att = this.byVif.get(vif);
    if (!att) throw new RequestError('E_NOT_ATTACHED', `${vif} is not attached`);
    const info = this.info(att);
    const gone = !existsSync(`/sys/class/net/${vif}`);
    if (mode === 'reset') {
      this.d.flows().abortVif(att.id, 'detached with reset');
      await this.finishDetach(att);
      return { ...info, state: 'draining', flows: 0 };
    }
    if (att.state !== 'draining') {
      att.state = 'draining';
      await this.d.nft.atomically(stopNewFlowsRules(this.steer(att)));
    }
    this.d.log.info(`detaching ${vif} (drain${gone ? ', vif gone' : ''}): ${att.counts.open} flow(s) still running`);
    if (gone) this.d.flows().vifVanished(att.id);
    if (att.counts.open === 0) await this.finishDetach(att);
    this.save();
    return { ...this.info(att), state: 'draining' };
  }

  private async finishDetach(att: VifAttachment): Promise<void> {
    if (this.byId.get(att.id) !== att) return;
    this.byVif.delete(att.vif);
    this.byId.delete(att.id);
    this.d.host.syncRelayVif(att.id, att.vif, undefined);
    this.save();
    if (this.d.nft.alive) await this.d.nft.atomically([...this.replyRules(), ...detachRules(this.steer(att))]);
    this.syncOnExit();
    this.d.log.info(`detached ${att.vif}`);
  }

  async set(vif: string, profileName?: string, options?: Options): Promise<AttachmentInfo> {
    const att = this.byVif.get(vif);
    if (!att) throw new RequestError('E_NOT_ATTACHED', `${vif} is not attached`);
    const merged = { ...att.options, ...(options ?? {}) };
    const profile = profileFor(this.d.config(), profileName ?? att.profile.name, merged);
    this.d.host.checkEngine(profile);
    att.profile = profile;
    att.options = merged;
    if (att.state === 'active') await this.d.nft.atomically(selectorRules(this.steer(att)));
    this.d.host.syncRelayVif(att.id, vif, att.profile);
    this.save();
    this.d.log.info(`${vif}: profile ${profile.name}${Object.keys(merged).length ? ` with ${JSON.stringify(merged)}` : ''} (new connections)`);
    return this.info(att);
  }

  info(att: VifAttachment): AttachmentInfo {
    const bytes = this.d.flows().vifBytes(att);
    const info: AttachmentInfo = {
      vif: att.vif, id: att.id, domain: att.domain, mode: att.placement.mode, bridge: att.placement.bridge,
      profile: att.profile.name, options: att.options, state: att.state, attachedAt: att.attachedAt.toISOString(),
      flows: att.counts.open, bytesUp: bytes.up, bytesDown: bytes.down, flowsTotal: att.counts.total, flowsRefused: att.counts.refused,
    };
    const dp = this.d.host.datapath;
    if (dp) {
      const legs = dp.vifCounters().filter((v) => v.attachment === att.id);
      const leg = (name: 'guest' | 'wan') => {
        const v = legs.find((x) => x.leg === name);
        return { bytesAcked: v?.bytesAcked ?? 0, bytesReceived: v?.bytesReceived ?? 0, flows: v?.flows ?? 0 };
      };
      info.kernelCounters = { guest: leg('guest'), wan: leg('wan') };
    }
    return info;
  }

  list(): AttachmentInfo[] { return [...this.byVif.values()].map((a) => this.info(a)); }

  // ---- steering asked for by the route watch and the flow table ----------

  async rescope(att: VifAttachment, scope: RouteScope): Promise<void> {
    att.scope = scope;
    await this.d.nft.atomically(scopeRules(this.steer(att)));
  }

  rememberTuple(att: VifAttachment, wanLocal: Endpoint, dst: Endpoint): Promise<void> {
    return this.d.nft.run(rememberFlowRule(att.flowSet(), wanLocal.ip, wanLocal.port, dst.ip, dst.port));
  }

  flowEnded(att: VifAttachment, f: SplitConnection): void {
    if (this.byId.get(att.id) !== att) return;
    const forget = [f.guest, ...(f.wanLocal.port !== f.guest.port ? [f.wanLocal] : [])]
      .map((g) => forgetFlowRule(att.flowSet(), g.ip, g.port, f.dst.ip, f.dst.port));
    setTimeout(() => {
      if (this.byId.get(att.id) !== att || !this.d.nft.alive) return;
      // The element may have expired or been replaced by a new connection's SYN; either is fine.
      for (const c of forget) this.d.nft.run(c).catch(() => undefined);
    }, FORGET_DELAY_MS).unref();
    if (att.state === 'draining' && att.counts.open === 0) this.finishDetach(att).catch((e) => this.d.log.error(`${att.vif}: ${e.message}`));
  }

  // ---- persistence ---------------------------------------------------------

  private save(): void {
    this.d.store.saveAttachments([...this.byVif.values()].filter((a) => a.state === 'active')
      .map((a) => ({ vif: a.vif, id: a.id, profile: a.profile.name, options: a.options, domain: a.domain, required: a.required })));
  }

  /** Re-attaches what was attached before a restart, for vifs that still exist. */
  async restore(): Promise<void> {
    const saved = this.d.store.loadAttachments();
    if (!saved) return;
    for (const s of saved) {
      try {
        await this.attach(s.vif, s.profile, s.options, s.domain, s.required, s.id);
      } catch (e) {
        this.d.log.warn(`not restoring ${s.vif}: ${(e as Error).message}`);
      }
    }
    this.save();
  }
}
