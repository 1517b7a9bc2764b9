// daemon/: xlnetd. Owns the data plane: the transparent listener, the split
// connections, the steering rules, the attachments and the control socket.
// Run-time administration (attach, detach with drain or reset, option changes)
// never needs a restart and never disturbs a flow already running: a flow
// keeps the profile it started with.
import net from 'node:net';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as libc from '../ffi/libc.js';
import { keySpec, loadXlnetConf, ConfigError, type Profile, type XlnetConfig } from '../config/index.js';
import { parseValue } from '../config/values.js';
import { NftSession } from '../steering/nft-session.js';
import {
  MARK_BASE, MARK_MASK, ROUTE_TABLE, RULE_PRIORITY, attachmentRules, baseRules, detachRules,
  forgetFlowRule, localAddressRules, rememberFlowRule, replyChainRules, scopeRules, selectorRules, stopNewFlowsRules,
} from '../steering/rules.js';
import { routeScope } from '../steering/routes.js';
import { TransparentListener } from '../service/listener.js';
import { SplitConnection, forgetSplice, type Endpoint, type RelayEngine } from '../service/split-connection.js';
import { applyLeg, legSettings, type LegSettings } from '../service/tcp-options.js';
import { loadDatapath, enterDaemonCgroup, TuningSlots, type Datapath, type DaemonCgroup } from '../datapath/index.js';
import { judgeDestination, localAddresses, plainIp } from '../service/policy.js';
import { VifAttachment, vifPlacement } from './attachment.js';
import { Logger } from './log.js';
import {
  MAX_REQUEST_BYTES, OPS, PROTOCOL_VERSION,
  type AttachmentInfo, type DatapathInfo, type DetachMode, type ErrorCode, type FlowInfo, type Options, type Request, type StatusInfo,
} from './protocol.js';

const run = promisify(execFile);
export const VERSION = '0.1.0';
/** A closed flow's tuple stays diverted this long, so the last ACKs of its close reach Dom0. */
const FORGET_DELAY_MS = 10_000;
/**
 * What `engine = auto` means. The rule: the kernel engine only if it is correct
 * (byte-exact in lab/test/kernel-engine*.test.ts and lab/bench/engines.ts) and
 * its medians on the `lan` bench beat the user engine on throughput without
 * costing more CPU per GB (xlnetd + softirq + kworker). Measured (engines.ts,
 * 5 x 500 MB, 2 cores, kernel 6.18, after the repeated-bytes fix, 0 of 10
 * kernel transfers corrupted): Mbit/s up/down direct 2205/1414, user 1910/972
 * at 6.9/12.8 CPU-s/GB, kernel 1121/522 at 10.2/18.8 CPU-s/GB (the redirect to
 * a socket's egress is sent by a kworker, one sendmsg per page fragment). So
 * auto = user.
 */
export const AUTO_ENGINE: RelayEngine = 'user';

export class RequestError extends Error {
  constructor(readonly code: ErrorCode, message: string) { super(message); }
}

export interface DaemonOptions {
  configFile: string;
  /** overrides [daemon] socket */
  socket?: string;
  /** overrides [daemon] state_dir */
  stateDir?: string;
  logger?: Logger;
  /** Where the datapath attaches (datapath/daemon-cgroup.ts): 'own' (default),
   * 'current', 'none' or a path below the cgroup v2 root. Default $XLNET_CGROUP or 'own'. */
  cgroup?: string;
}

interface SavedAttachment { vif: string; profile: string; options: Options; domain?: string; required: boolean }

function fdOf(s: net.Socket): number {
  return (s as unknown as { _handle: { fd: number } })._handle.fd;
}

export class Daemon {
  config: XlnetConfig;
  readonly log: Logger;
  private nft = new NftSession();
  private listener: TransparentListener;
  private control?: net.Server;
  readonly attachments = new Map<string, VifAttachment>();
  private byId = new Map<number, VifAttachment>();
  readonly flows = new Map<number, SplitConnection>();
  private nextFlowId = 1;
  private local = new Set<string>();
  private timers: NodeJS.Timeout[] = [];
  private startedAt = Date.now();
  private totals = { flows: 0, up: 0, down: 0 };
  socketPath: string;
  stateDir: string;
  listenPort = 0;
  private stopping = false;
  /** open control connections: a stop must not wait for them (`xlnet top` stays connected) */
  private controlClients = new Set<net.Socket>();
  /** set once this instance owns the policy routes (a refused second instance must not remove the first's) */
  private routingInstalled = false;
  /** the BPF datapath (tuning, counters, kernel relay); undefined when unavailable */
  datapath?: Datapath;
  private tuning?: TuningSlots;
  private cgroup?: DaemonCgroup;
  /** The guest-leg options the transparent listener has (tuneListener). */
  private listenerGuest?: LegSettings;
  private datapathInfo: DatapathInfo = { state: 'off', kernelEngine: false, autoEngine: AUTO_ENGINE };

  constructor(private readonly opts: DaemonOptions) {
    this.config = loadXlnetConf(opts.configFile);
    this.log = opts.logger ?? new Logger(this.config.daemon.log_level);
    this.socketPath = opts.socket ?? this.config.daemon.socket;
    this.stateDir = opts.stateDir ?? this.config.daemon.state_dir;
    this.listener = new TransparentListener((s) => this.onConnection(s));
  }

  /**
   * Gives the transparent listener the default profile's guest-leg options,
   * which accepted sockets inherit (so a guest leg needs setsockopt calls only
   * where its profile differs). Done once: changing a listener's options
   * while connections wait in its accept queue would make `listenerGuest`
   * wrong for them, so after a reload the guest legs diff against what the
   * listener really has.
   */
  private tuneListener(): void {
    const p = this.config.profiles.get(this.config.defaults.profile);
    if (!p) return;
    const s = legSettings(p, 'guest');
    try {
      for (const fd of this.listener.fds) {
        for (const w of applyLeg(fd, s)) this.log.warn(`transparent listener: ${w}`);
      }
      this.listenerGuest = s;
    } catch (e) {
      this.log.warn(`transparent listener: options not set (${(e as Error).message}); every guest leg sets its own`);
    }
  }

  async start(): Promise<void> {
    await this.checkNotRunning();
    // Before any helper process is spawned: the cgroup must hold xlnetd alone.
    await this.startDatapath();
    // Accepted sockets carry the SYN's fwmark, which names the attachment.
    writeFileSync('/proc/sys/net/ipv4/tcp_fwmark_accept', '1');
    this.listenPort = await this.listener.listen(this.config.daemon.listen_port);
    this.tuneListener();
    if (this.datapath) {
      // Guest legs: accepted sockets inherit this registration (slot 0: no
      // tuning, the guest leg's options are set per profile after accept).
      for (const fd of this.listener.fds) this.datapath.registerSocket(fd, { attachment: 0, profile: 0 });
    }
    this.nft.onExit = (why) => { if (!this.stopping) this.log.error(`steering lost (${why}): guests' connections now go direct`); };
    this.nft.start();
    await this.nft.runAll(baseRules(this.listenPort));
    await this.refreshLocalAddresses();
    this.routingInstalled = true;
    await this.routing('add');
    await this.listenControl();
    this.timers.push(setInterval(() => this.sampleRates(), 1000));
    this.timers.push(setInterval(() => {
      this.refreshLocalAddresses().catch((e) => this.log.warn(`local addresses: ${e.message}`));
      this.refreshScopes().catch((e) => this.log.warn(`route scope: ${e.message}`));
    }, 5000));
    await this.restore();
    this.log.info(`xlnetd ${VERSION} ready: listener port ${this.listenPort}, control ${this.socketPath}, config ${this.config.source}`);
  }

  /**
   * Loads the BPF datapath into xlnetd's own cgroup. Fails soft: without it
   * xlnetd splits connections all the same, with no BPF tuning (initcwnd),
   * no kernel counters and no kernel relay engine, and says so in `status`.
   */
  private async startDatapath(): Promise<void> {
    const choice = this.opts.cgroup ?? process.env.XLNET_CGROUP ?? 'own';
    if (choice === 'none') {
      this.datapathInfo = { state: 'off', reason: 'cgroup = none', kernelEngine: false, autoEngine: AUTO_ENGINE };
      return;
    }
    try {
      this.cgroup = enterDaemonCgroup(choice);
      // The previous instance's helpers (its `nft -i`) may still be leaving.
      let dp: Datapath | undefined;
      for (let i = 0; ; i++) {
        try { dp = await loadDatapath({ cgroup: this.cgroup!.path }); break; } catch (e) {
          if (i >= 20 || (e as { code?: string }).code !== 'E_CGROUP' || !/holds other processes/.test((e as Error).message)) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      this.datapath = dp;
      this.tuning = new TuningSlots(dp);
      const refusal = this.kernelEngineRefusal();
      this.datapathInfo = {
        state: 'loaded', cgroup: this.cgroup!.path, kernelEngine: refusal === undefined,
        kernelEngineReason: refusal, autoEngine: this.autoEngine(),
      };
      this.log.info(`datapath loaded in cgroup ${this.cgroup!.path}${dp.relayAvailable ? '' : ` (kernel relay engine unavailable: ${dp.relayError})`}`);
    } catch (e) {
      this.cgroup?.leave();
      this.cgroup = undefined;
      const reason = (e as Error).message;
      this.datapathInfo = { state: 'unavailable', reason, kernelEngine: false, autoEngine: AUTO_ENGINE };
      this.log.warn(`datapath unavailable, running without BPF tuning, kernel counters and kernel relay: ${reason}`);
    }
  }

  private autoEngine(): RelayEngine {
    return AUTO_ENGINE === 'kernel' && this.kernelEngineUsable() ? 'kernel' : 'user';
  }

  /** Why engine = kernel cannot be used here, or undefined when it can. */
  private kernelEngineRefusal(): string | undefined {
    if (!this.datapath?.relayAvailable) {
      const why = this.datapath ? this.datapath.relayError : this.datapathInfo.reason;
      return `engine = kernel needs the BPF kernel relay, which is not available here (${why ?? 'unknown'}); ` +
        'use engine = user or auto (xlnet status shows the datapath)';
    }
    return undefined;
  }

  private kernelEngineUsable(): boolean {
    return this.kernelEngineRefusal() === undefined;
  }

  /** The engine a profile asks for, as this daemon can run it. */
  private engineFor(p: Profile): RelayEngine {
    if (p.engine === 'auto') return this.autoEngine();
    if (p.engine === 'kernel' && !this.kernelEngineUsable()) return 'user';
    return p.engine;
  }

  /** Tells the datapath whether this vif's guest connections are spliced at establishment. */
  private syncRelayVif(att: VifAttachment, on = this.engineFor(att.profile) === 'kernel'): void {
    if (!this.datapath?.relayAvailable) return;
    try { this.datapath.relayVif(MARK_BASE | att.id, on); } catch (e) {
      this.log.warn(`${att.vif}: kernel relay ${on ? 'not enabled' : 'not disabled'}: ${(e as Error).message}`);
    }
  }

  /** A profile asking for engine=kernel on a daemon that cannot run it is refused. */
  private checkEngine(p: Profile): void {
    const refusal = p.engine === 'kernel' ? this.kernelEngineRefusal() : undefined;
    if (refusal) throw new RequestError('E_BAD_OPTION', refusal);
  }

  /**
   * The policy routes: diverted packets (marked) are delivered locally; but
   * Dom0's own packets on the split connections carry the SYN's mark too
   * (tcp_fwmark_accept), and those must be routed normally, hence the
   * higher-priority `iif lo` rule.
   */
  private async routing(action: 'add' | 'del'): Promise<void> {
    const mark = `0x${MARK_BASE.toString(16)}/0x${MARK_MASK.toString(16)}`;
    const rules = [
      ['iif', 'lo', 'fwmark', mark, 'lookup', 'main', 'priority', String(RULE_PRIORITY - 1)],
      ['fwmark', mark, 'lookup', String(ROUTE_TABLE), 'priority', String(RULE_PRIORITY)],
    ];
    for (const fam of ['-4', '-6']) {
      // Remove leftovers of a crashed run first, so each rule exists once.
      for (const r of rules) {
        for (let i = 0; i < 10; i++) {
          const ok = await run('ip', [fam, 'rule', 'del', ...r]).catch(() => undefined);
          if (!ok) break;
        }
      }
      await run('ip', [fam, 'route', 'flush', 'table', String(ROUTE_TABLE)]).catch(() => undefined);
      if (action === 'add') {
        for (const r of rules) await run('ip', [fam, 'rule', 'add', ...r]);
        await run('ip', [fam, 'route', 'add', 'local', fam === '-4' ? '0.0.0.0/0' : '::/0', 'dev', 'lo', 'table', String(ROUTE_TABLE)]);
      }
    }
  }

  private async refreshLocalAddresses(): Promise<void> {
    const now = localAddresses().filter((a) => !a.startsWith('127.') && a !== '::1');
    const fresh = now.filter((a) => !this.local.has(a));
    this.local = new Set(localAddresses());
    if (fresh.length && this.nft.alive) await this.nft.runAll(localAddressRules(fresh));
  }

  /** Follows Dom0's routes: what a bridged guest may be split towards (steering/routes.ts). */
  private async refreshScopes(): Promise<void> {
    for (const att of this.attachments.values()) {
      if (att.placement.mode !== 'bridge' || att.state !== 'active' || !this.nft.alive) continue;
      const sc = await routeScope(att.placement.bridge!);
      if (JSON.stringify(sc) === JSON.stringify(att.scope)) continue;
      att.scope = sc;
      await this.nft.atomically(scopeRules(att.steering(this.config.daemon.max_flows)));
      this.log.info(`${att.vif}: Dom0's routes changed; split towards ${[...sc.allow4, ...sc.allow6].join(' ') || 'nothing'}${sc.deny4.length + sc.deny6.length ? ` except ${[...sc.deny4, ...sc.deny6].join(' ')}` : ''}`);
    }
  }

  // ---- connections -------------------------------------------------------

  private onConnection(s: net.Socket): void {
    if (!s.remoteAddress || !s.localAddress || !s.remotePort || !s.localPort) { s.destroy(); return; }
    const guest: Endpoint = { ip: plainIp(s.remoteAddress), port: s.remotePort };
    const dst: Endpoint = { ip: plainIp(s.localAddress), port: s.localPort };
    let mark = 0;
    try { mark = libc.getInt(fdOf(s), libc.SOL_SOCKET, libc.SO_MARK); } catch { /* closed already */ }
    const att = (mark & MARK_MASK) >>> 0 === MARK_BASE ? this.byId.get(mark & 0xffff) : undefined;
    if (!att) {
      // Not diverted by xlnet (a local process connecting to the loopback listener): refuse.
      this.log.warn(`refused connection ${guest.ip}:${guest.port} -> ${dst.ip}:${dst.port}: not from an attached vif (mark 0x${mark.toString(16)})`);
      s.resetAndDestroy();
      return;
    }
    const refuse = (why: string) => {
      att.flowsRefused++;
      // The datapath may have spliced it at establishment (engine = kernel).
      if (this.datapath?.relayAvailable) { try { forgetSplice(this.datapath, libc.socketCookie(fdOf(s))); } catch { /* closed */ } }
      this.log.info(`${att.vif}: not splitting ${guest.ip}:${guest.port} -> ${dst.ip}:${dst.port}: ${why}`);
      s.resetAndDestroy();
    };
    if (this.flows.size >= this.config.daemon.max_flows) return refuse(`max_flows ${this.config.daemon.max_flows} reached`);
    const p = att.profile;
    const verdict = judgeDestination(dst.ip, dst.port, this.local, p.exclude_ports, p.exclude_cidrs);
    if (!verdict.split) return refuse(verdict.reason);

    const id = this.nextFlowId++;
    const dp = this.datapath;
    let slot: number | undefined;
    if (dp && this.tuning) {
      try {
        dp.reassignSocket(fdOf(s), { attachment: att.id, profile: 0 });
        // Buffers are set from user space before connect() with SO_*BUFFORCE
        // (tcp-options.ts); bpf_setsockopt would cap them at wmem_max/rmem_max.
        slot = this.tuning.acquire({ initcwnd: p.wan_initcwnd || 0, cc: availableCc(p.wan_cc), sndbuf: 0, rcvbuf: 0 });
      } catch (e) {
        this.log.warn(`${att.vif}: flow ${id} not tuned: ${(e as Error).message}`);
      }
    }
    const engine = this.engineFor(p);
    const flow = new SplitConnection(id, att.vif, att.id, s, guest, dst, p, {
      rememberTuple: (g, wanLocal, d) => this.nft.run(rememberFlowRule(this.mode(att), wanLocal.ip, wanLocal.port, d.ip, d.port)),
      closed: (f, reason) => {
        if (slot !== undefined) this.tuning?.release(slot);
        this.flowClosed(f, reason);
      },
      log: (level, msg) => this.log.log(level, msg),
      listenerGuest: this.listenerGuest,
      registerWan: dp && slot !== undefined ? (fd, relay) => dp.registerSocket(fd, { attachment: att.id, profile: slot!, relay }) : undefined,
    }, engine === 'kernel' ? dp : undefined);
    this.flows.set(id, flow);
    att.flows++;
    att.flowsTotal++;
    this.totals.flows++;
    this.log.debug(`${att.vif}: flow ${id} ${guest.ip}:${guest.port} -> ${dst.ip}:${dst.port}`);
    flow.start().catch((e: Error) => {
      this.log.warn(`${att.vif}: flow ${id} to ${dst.ip}:${dst.port} failed: ${e.message}`);
      flow.abort(e.message);
    });
  }

  private mode(att: VifAttachment): { id: number; mode: 'bridge' | 'route' } {
    return { id: att.id, mode: att.placement.mode };
  }

  private flowClosed(f: SplitConnection, reason: string): void {
    this.flows.delete(f.id);
    this.totals.up += f.bytesUp;
    this.totals.down += f.bytesDown;
    const att = this.byId.get(f.attachmentId);
    this.log.debug(`flow ${f.id} closed (${reason}): up ${f.bytesUp} down ${f.bytesDown}`);
    if (!att) return;
    att.flows--;
    att.bytesUp += f.bytesUp;
    att.bytesDown += f.bytesDown;
    const forget = [f.guest, ...(f.wanLocal.port !== f.guest.port ? [f.wanLocal] : [])]
      .map((g) => forgetFlowRule(this.mode(att), g.ip, g.port, f.dst.ip, f.dst.port));
    setTimeout(() => {
      if (this.byId.get(att.id) !== att || !this.nft.alive) return;
      // The element may have expired or been replaced by a new connection's SYN; either is fine.
      for (const c of forget) this.nft.run(c).catch(() => undefined);
    }, FORGET_DELAY_MS).unref();
    if (att.state === 'draining' && att.flows === 0) this.finishDetach(att).catch((e) => this.log.error(`${att.vif}: ${e.message}`));
  }

  private sampleRates(): void {
    const now = Date.now();
    for (const f of this.flows.values()) f.sampleRates(now);
  }

  // ---- attachments ---------------------------------------------------------

  private profileFor(name: string | undefined, options: Options | undefined): Profile {
    const pname = name ?? this.config.defaults.profile;
    const base = this.config.profiles.get(pname);
    if (!base) {
      throw new RequestError('E_UNKNOWN_PROFILE', `unknown profile '${pname}' (known: ${[...this.config.profiles.keys()].join(', ')})`);
    }
    const p: Profile = { ...base };
    for (const [k, v] of Object.entries(options ?? {})) {
      const spec = keySpec('profile', k);
      if (!spec) throw new RequestError('E_BAD_OPTION', `unknown option '${k}' (profile keys: ${this.profileKeys().join(', ')})`);
      if (typeof v !== 'string') throw new RequestError('E_BAD_OPTION', `option '${k}' must be a string value`);
      try {
        (p as Record<string, unknown>)[k] = parseValue(spec, v);
      } catch (e) {
        throw new RequestError('E_BAD_OPTION', `option ${k}=${v}: ${(e as Error).message}${spec.allowed ? ` (allowed: ${spec.allowed})` : ''}`);
      }
    }
    return p;
  }

  private profileKeys(): string[] {
    return Object.keys(this.config.profiles.get('default') ?? {}).filter((k) => k !== 'name');
  }

  private allocateId(): number {
    for (let id = 1; id <= 0xffff; id++) if (!this.byId.has(id)) return id;
    throw new RequestError('E_INTERNAL', 'no free attachment id (65535 attachments)');
  }

  async attach(vif: string, profileName?: string, options: Options = {}, domain?: string, required = false): Promise<AttachmentInfo> {
    checkVifName(vif);
    if (this.attachments.has(vif)) {
      const a = this.attachments.get(vif)!;
      if (a.state === 'draining') throw new RequestError('E_ALREADY_ATTACHED', `${vif} is still draining from a detach; try again when its flows have ended`);
      throw new RequestError('E_ALREADY_ATTACHED', `${vif} is already attached (profile ${a.profile.name}); use 'set' to change it`);
    }
    const placement = vifPlacement(vif);
    if (!placement) throw new RequestError('E_NO_VIF', `no network interface ${vif} in Dom0`);
    const profile = this.profileFor(profileName, options);
    this.checkEngine(profile);
    const att = new VifAttachment(this.allocateId(), vif, placement, profile, { ...options }, domain, required);
    if (placement.mode === 'bridge') att.scope = await routeScope(placement.bridge!);
    this.byId.set(att.id, att);
    this.attachments.set(vif, att);
    try {
      await this.nft.atomically([...attachmentRules(att.steering(this.config.daemon.max_flows)), ...this.replyRules()]);
    } catch (e) {
      this.byId.delete(att.id);
      this.attachments.delete(vif);
      throw new RequestError('E_STEERING', `cannot install the rules for ${vif}: ${(e as Error).message}`);
    }
    this.syncRelayVif(att);
    this.save();
    this.log.info(`attached ${vif} (${placement.mode}${placement.bridge ? ` on ${placement.bridge}` : ''}) profile ${profile.name}${domain ? ` domain ${domain}` : ''}`);
    return this.info(att);
  }

  private replyRules(): string[] {
    return replyChainRules([...this.attachments.values()].map((a) => a.steering(this.config.daemon.max_flows)));
  }

  async detach(vif: string, mode: DetachMode = 'drain'): Promise<AttachmentInfo> {
    const att = this.attachments.get(vif);
    if (!att) throw new RequestError('E_NOT_ATTACHED', `${vif} is not attached`);
    const info = this.info(att);
    const gone = !existsSync(`/sys/class/net/${vif}`);
    if (mode === 'reset') {
      for (const f of [...this.flows.values()]) if (f.attachmentId === att.id) f.abort('detached with reset');
      await this.finishDetach(att);
      return { ...info, state: 'draining', flows: 0 };
    }
    if (att.state !== 'draining') {
      att.state = 'draining';
      await this.nft.atomically(stopNewFlowsRules(att.steering(this.config.daemon.max_flows)));
    }
    this.log.info(`detaching ${vif} (drain${gone ? ', vif gone' : ''}): ${att.flows} flow(s) still running`);
    if (gone) for (const f of this.flows.values()) if (f.attachmentId === att.id) f.guestVanished();
    if (att.flows === 0) await this.finishDetach(att);
    this.save();
    return { ...this.info(att), state: 'draining' };
  }

  private async finishDetach(att: VifAttachment): Promise<void> {
    if (this.byId.get(att.id) !== att) return;
    this.attachments.delete(att.vif);
    this.byId.delete(att.id);
    this.syncRelayVif(att, false);
    this.save();
    if (this.nft.alive) await this.nft.atomically([...this.replyRules(), ...detachRules(att.steering(this.config.daemon.max_flows))]);
    this.log.info(`detached ${att.vif}`);
  }

  async set(vif: string, profileName?: string, options?: Options): Promise<AttachmentInfo> {
    const att = this.attachments.get(vif);
    if (!att) throw new RequestError('E_NOT_ATTACHED', `${vif} is not attached`);
    const merged = { ...att.options, ...(options ?? {}) };
    const profile = this.profileFor(profileName ?? att.profile.name, merged);
    this.checkEngine(profile);
    att.profile = profile;
    att.options = merged;
    if (att.state === 'active') await this.nft.atomically(selectorRules(att.steering(this.config.daemon.max_flows)));
    this.syncRelayVif(att);
    this.save();
    this.log.info(`${vif}: profile ${profile.name}${Object.keys(merged).length ? ` with ${JSON.stringify(merged)}` : ''} (new connections)`);
    return this.info(att);
  }

  info(att: VifAttachment): AttachmentInfo {
    let up = att.bytesUp, down = att.bytesDown;
    for (const f of this.flows.values()) if (f.attachmentId === att.id) { up += f.bytesUp; down += f.bytesDown; }
    const info: AttachmentInfo = {
      vif: att.vif, id: att.id, domain: att.domain, mode: att.placement.mode, bridge: att.placement.bridge,
      profile: att.profile.name, options: att.options, state: att.state, attachedAt: att.attachedAt.toISOString(),
      flows: att.flows, bytesUp: up, bytesDown: down, flowsTotal: att.flowsTotal, flowsRefused: att.flowsRefused,
    };
    if (this.datapath) {
      const legs = this.datapath.vifCounters().filter((v) => v.attachment === att.id);
      const leg = (name: 'guest' | 'wan') => {
        const v = legs.find((x) => x.leg === name);
        return { bytesAcked: v?.bytesAcked ?? 0, bytesReceived: v?.bytesReceived ?? 0, flows: v?.flows ?? 0 };
      };
      info.kernelCounters = { guest: leg('guest'), wan: leg('wan') };
    }
    return info;
  }

  flowInfo(vif?: string): FlowInfo[] {
    const out: FlowInfo[] = [];
    const now = Date.now();
    for (const f of this.flows.values()) {
      if (vif && f.vif !== vif) continue;
      const ep = (e: Endpoint) => (net.isIPv6(e.ip) ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`);
      const relayedUp = f.bytesUp, relayedDown = f.bytesDown;
      let bytesUp = relayedUp, bytesDown = relayedDown, counters: FlowInfo['counters'] = 'relay';
      const k = f.wanCookie !== undefined ? this.datapath?.flow(f.wanCookie) : undefined;
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

  status(): StatusInfo {
    let up = this.totals.up, down = this.totals.down, buffered = 0;
    for (const f of this.flows.values()) {
      up += f.bytesUp; down += f.bytesDown;
      buffered += (f.guestSock.writableLength ?? 0) + (f.wan?.writableLength ?? 0);
    }
    const mem = process.memoryUsage();
    return {
      version: VERSION, protocol: PROTOCOL_VERSION, pid: process.pid, uptimeSec: Math.round((Date.now() - this.startedAt) / 1000),
      listenPort: this.listenPort, configFile: this.config.source, attachments: this.attachments.size,
      flows: this.flows.size, flowsTotal: this.totals.flows, bytesUp: up, bytesDown: down,
      memory: { rss: mem.rss, heapUsed: mem.heapUsed, bufferedBytes: buffered },
      profiles: [...this.config.profiles.keys()],
      datapath: { ...this.datapathInfo, kernelFlows: [...this.flows.values()].filter((f) => f.engine === 'kernel').length },
    };
  }

  /** Re-reads xlnet.conf; attachments keep running with their profile until changed. */
  reload(): { profiles: string[] } {
    const cfg = loadXlnetConf(this.opts.configFile);
    this.config = cfg;
    this.log.level = cfg.daemon.log_level;
    this.log.info(`configuration reloaded from ${cfg.source}`);
    return { profiles: [...cfg.profiles.keys()] };
  }

  // ---- persistence -------------------------------------------------------

  private statePath(): string { return join(this.stateDir, 'attachments.json'); }

  private save(): void {
    const list: SavedAttachment[] = [...this.attachments.values()].filter((a) => a.state === 'active')
      .map((a) => ({ vif: a.vif, profile: a.profile.name, options: a.options, domain: a.domain, required: a.required }));
    mkdirSync(this.stateDir, { recursive: true });
    const tmp = `${this.statePath()}.tmp`;
    writeFileSync(tmp, JSON.stringify(list, null, 1));
    renameSync(tmp, this.statePath());
  }

  /** Re-attaches what was attached before a restart, for vifs that still exist. */
  private async restore(): Promise<void> {
    if (!existsSync(this.statePath())) return;
    let list: SavedAttachment[] = [];
    try { list = JSON.parse(readFileSync(this.statePath(), 'utf8')) as SavedAttachment[]; } catch (e) {
      this.log.warn(`ignoring unreadable state ${this.statePath()}: ${(e as Error).message}`);
      return;
    }
    for (const s of list) {
      try {
        await this.attach(s.vif, s.profile, s.options, s.domain, s.required);
      } catch (e) {
        this.log.warn(`not restoring ${s.vif}: ${(e as Error).message}`);
      }
    }
    this.save();
  }

  // ---- control socket ----------------------------------------------------

  /** Refuses to start next to a live xlnetd; removes a stale socket file of a dead one. */
  private async checkNotRunning(): Promise<void> {
    if (!existsSync(this.socketPath)) return;
    const alive = await new Promise<boolean>((r) => {
      const c = net.connect(this.socketPath);
      c.once('connect', () => { c.destroy(); r(true); });
      c.once('error', () => r(false));
    });
    if (alive) throw new Error(`another xlnetd is already listening on ${this.socketPath}`);
    rmSync(this.socketPath, { force: true });
  }

  private async listenControl(): Promise<void> {
    mkdirSync(dirname(this.socketPath), { recursive: true, mode: 0o755 });
    const srv = net.createServer((c) => this.serveControl(c));
    const old = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => { srv.once('error', reject); srv.listen(this.socketPath, () => resolve()); });
    } finally {
      process.umask(old);
    }
    chmodSync(this.socketPath, 0o600);
    this.control = srv;
  }

  private serveControl(c: net.Socket): void {
    this.controlClients.add(c);
    let gone = false;
    c.on('close', () => { gone = true; this.controlClients.delete(c); });
    let buf = '';
    let chain = Promise.resolve();
    c.setEncoding('utf8');
    c.on('error', () => undefined);
    c.on('data', (d: string) => {
      buf += d;
      if (buf.length > MAX_REQUEST_BYTES && !buf.includes('\n')) {
        c.end(`${JSON.stringify({ v: PROTOCOL_VERSION, id: null, ok: false, error: { code: 'E_TOO_LARGE', message: `request longer than ${MAX_REQUEST_BYTES} bytes` } })}\n`);
        buf = '';
        return;
      }
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!line.trim()) continue;
        // Requests on one connection are answered in order.
        chain = chain.then(async () => {
          const res = await this.handleLine(line);
          if (gone || c.destroyed || c.readableEnded) await this.undoIfGone(line, res);
          if (!c.destroyed) c.write(`${JSON.stringify(res)}\n`);
        });
      }
    });
  }

  /** An attach with undoIfGone whose requester left before the answer: undone (protocol.ts). */
  private async undoIfGone(line: string, res: unknown): Promise<void> {
    let req: Record<string, unknown>;
    try { req = JSON.parse(line) as Record<string, unknown>; } catch { return; }
    if (req.op !== 'attach' || req.undoIfGone !== true || typeof req.vif !== 'string') return;
    if (!(res as { ok?: boolean }).ok) return;
    this.log.warn(`${req.vif}: the requester of this attach gave up before the answer (a hotplug timeout?): detaching again`);
    try { await this.detach(req.vif, 'reset'); } catch (e) { this.log.warn(`${req.vif}: undoing the attach failed: ${(e as Error).message}`); }
  }

  async handleLine(line: string): Promise<unknown> {
    let msg: unknown;
    const fail = (id: unknown, code: ErrorCode, message: string) =>
      ({ v: PROTOCOL_VERSION, id: typeof id === 'number' || typeof id === 'string' ? id : null, ok: false, error: { code, message } });
    if (line.length > MAX_REQUEST_BYTES) return fail(null, 'E_TOO_LARGE', `request longer than ${MAX_REQUEST_BYTES} bytes`);
    try { msg = JSON.parse(line); } catch { return fail(null, 'E_PARSE', 'request is not valid JSON'); }
    if (!msg || typeof msg !== 'object' || Array.isArray(msg)) return fail(null, 'E_BAD_REQUEST', 'request must be a JSON object');
    const m = msg as Record<string, unknown>;
    const id = m.id;
    if (m.v !== PROTOCOL_VERSION) return fail(id, 'E_VERSION', `protocol version ${JSON.stringify(m.v)} not supported (this xlnetd speaks ${PROTOCOL_VERSION})`);
    if (typeof m.op !== 'string') return fail(id, 'E_BAD_REQUEST', "missing 'op'");
    if (!(OPS as readonly string[]).includes(m.op)) return fail(id, 'E_UNKNOWN_OP', `unknown op '${m.op}' (known: ${OPS.join(', ')})`);
    try {
      const result = await this.dispatch(m as unknown as Request & Record<string, unknown>);
      return { v: PROTOCOL_VERSION, id, ok: true, result };
    } catch (e) {
      if (e instanceof RequestError) return fail(id, e.code, e.message);
      if (e instanceof ConfigError) return fail(id, 'E_BAD_REQUEST', e.message);
      this.log.error(`request ${m.op} failed: ${(e as Error).stack ?? e}`);
      return fail(id, 'E_INTERNAL', (e as Error).message);
    }
  }

  private async dispatch(r: Request & Record<string, unknown>): Promise<unknown> {
    const str = (k: string, optional = false): string | undefined => {
      const v = r[k];
      if (v === undefined && optional) return undefined;
      if (typeof v !== 'string' || !v) throw new RequestError('E_BAD_REQUEST', `'${k}' must be a non-empty string`);
      return v;
    };
    const opts = (): Options | undefined => {
      const o = r.options;
      if (o === undefined) return undefined;
      if (!o || typeof o !== 'object' || Array.isArray(o)) throw new RequestError('E_BAD_REQUEST', "'options' must be an object of key: value strings");
      return o as Options;
    };
    switch (r.op) {
      case 'hello': return { version: VERSION, protocol: PROTOCOL_VERSION };
      case 'status': return this.status();
      case 'list': return [...this.attachments.values()].map((a) => this.info(a));
      case 'attach': {
        if (r.required !== undefined && typeof r.required !== 'boolean') throw new RequestError('E_BAD_REQUEST', "'required' must be true or false");
        return this.attach(str('vif')!, str('profile', true), opts(), str('domain', true), r.required === true);
      }
      case 'detach': {
        const mode = r.mode ?? 'drain';
        if (mode !== 'drain' && mode !== 'reset') throw new RequestError('E_BAD_REQUEST', "'mode' must be 'drain' or 'reset'");
        return this.detach(str('vif')!, mode);
      }
      case 'set': return this.set(str('vif')!, str('profile', true), opts());
      case 'flows': return this.flowInfo(str('vif', true));
      case 'reload':
        try { return this.reload(); } catch (e) {
          throw new RequestError('E_BAD_REQUEST', `configuration not reloaded: ${(e as Error).message}`);
        }
    }
  }

  /** Clean shutdown: steering removed (guests go direct), state kept for the next start. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    const closed = new Promise<void>((r) => (this.control ? this.control.close(() => r()) : r()));
    for (const c of this.controlClients) c.destroy();
    await closed;
    if (this.control) rmSync(this.socketPath, { force: true });
    await this.listener.close();
    await this.nft.close();
    if (this.routingInstalled) await this.routing('del').catch(() => undefined);
    for (const f of [...this.flows.values()]) f.abort('xlnetd stopping');
    this.datapath?.close();
    this.datapath = undefined;
    this.cgroup?.leave();
    this.log.info('xlnetd stopped');
  }
}

/** A congestion control the kernel has, or '' (kernel default): the user-space
 * options already warned about a missing one. */
function availableCc(cc: string): string {
  try {
    return readFileSync('/proc/sys/net/ipv4/tcp_available_congestion_control', 'utf8').trim().split(/\s+/).includes(cc) ? cc : '';
  } catch { return ''; }
}

/** Linux interface names: 1-15 bytes, no '/', no whitespace, not '.' or '..'. */
export function checkVifName(vif: string): void {
  if (!/^[A-Za-z0-9_.:-]{1,15}$/.test(vif) || vif === '.' || vif === '..') {
    throw new RequestError('E_BAD_REQUEST', `'${vif}' is not a network interface name (1-15 letters, digits, '.', '-', '_', ':')`);
  }
}
