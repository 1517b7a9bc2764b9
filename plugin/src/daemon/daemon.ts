// xlnetd's composition root: builds the daemon's parts, starts them in the
// order they depend on each other and stops them in reverse. The parts:
//   config-source.ts   xlnet.conf, loaded and reloaded
//   datapath-host.ts   the BPF datapath and the relay engine decision
//   acceptor.ts        the transparent listener and each accepted connection
//   flow-table.ts      the split connections, their counts and limits
//   attachments.ts     the attached vifs and their steering
//   routing.ts         policy routes, Dom0's addresses, route scope (watched)
//   state-store.ts     what a restart re-attaches
//   control-server.ts  the control socket
//   keeper/handover.ts what outlives xlnetd across a restart (the keeper)
// Run-time administration (attach, detach with drain or reset, option changes)
// never needs a restart and never disturbs a flow already running.
import { NftSession } from '../steering/nft-session.js';
import { Handover } from '../keeper/handover.js';
import { baseRules } from '../steering/rules.js';
import { Acceptor } from './acceptor.js';
import { Attachments } from './attachments.js';
import type { VifAttachment } from './attachment.js';
import { ConfigSource } from './config-source.js';
import { ControlServer, type ControlOps } from './control-server.js';
import { DatapathHost } from './datapath-host.js';
import { FlowTable } from './flow-table.js';
import { Logger } from './log.js';
import { profileFor } from './profile-options.js';
import { PROTOCOL_VERSION, type StatusInfo } from './protocol.js';
import { Routing } from './routing.js';
import { StateStore } from './state-store.js';

export const VERSION = '0.1.0';
/** How long a stop waits for the flows' bytes read by xlnetd to reach their sockets before handing them over. */
const HANDOVER_MS = 1000;

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

export class Daemon {
  readonly log: Logger;
  private readonly config: ConfigSource;
  private readonly nft = new NftSession();
  private readonly host: DatapathHost;
  private readonly routing: Routing;
  readonly flows: FlowTable<VifAttachment>;
  readonly attachments: Attachments;
  private readonly acceptor: Acceptor;
  private readonly control: ControlServer;
  private readonly store: StateStore;
  private handover?: Handover;
  private readonly startedAt = Date.now();
  listenPort = 0;
  private stopping = false;

  constructor(private readonly opts: DaemonOptions) {
    this.config = new ConfigSource(opts.configFile);
    const cfg = () => this.config.current;
    const log = this.log = opts.logger ?? new Logger(cfg().daemon.log_level);
    this.host = new DatapathHost(log);
    this.routing = new Routing(this.nft, log);
    const store = this.store = new StateStore(opts.stateDir ?? cfg().daemon.state_dir, log);
    this.attachments = new Attachments({
      config: cfg, nft: this.nft, host: this.host, flows: () => this.flows, store, log,
      ipv6: () => this.acceptor.ipv6, onExitRules: (nft) => this.handover?.onExit(nft),
    });
    this.flows = new FlowTable(() => ({ maxFlows: cfg().daemon.max_flows }), this.attachments, log);
    this.acceptor = new Acceptor({
      config: cfg, attachment: (id) => this.attachments.byMarkId(id), local: () => this.routing.local,
      flows: this.flows, host: this.host, log,
    });
    this.control = new ControlServer(opts.socket ?? cfg().daemon.socket, this.ops(), log);
  }

  get socketPath(): string { return this.control.path; }

  async start(): Promise<void> {
    await this.control.checkNotRunning();
    // Before any helper process is spawned: the cgroup must hold xlnetd alone.
    await this.host.start(this.opts.cgroup ?? process.env.XLNET_CGROUP ?? 'own');
    // What a previous xlnetd left with the keeper (listener, steering, flows) is taken back.
    const h = this.handover = await Handover.open(this.store.dir, this.log);
    this.flows.keeper = h.alive ? h : undefined;
    // Accepted sockets carry the SYN's fwmark, which names the attachment.
    h.setSysctl('/proc/sys/net/ipv4/tcp_fwmark_accept', '1');
    const kept = h.listenerFds();
    this.listenPort = await this.acceptor.listen(this.config.current.daemon.listen_port, kept);
    if (!kept) h.keepListener(this.acceptor.fds);
    if (!this.acceptor.ipv6) this.log.warn('IPv6 is off on this Dom0 (disabled on loopback): IPv4 connections are split, IPv6 ones go direct');
    this.nft.onExit = (why) => { if (!this.stopping) this.log.error(`steering lost (${why}): guests' connections now go direct`); };
    await h.startNft(this.nft);
    await this.nft.runAll(baseRules(this.listenPort, this.acceptor.ipv6));
    await this.routing.install(this.acceptor.ipv6);
    await this.control.listen();
    this.flows.startSampling();
    this.routing.watch(this.attachments);
    await this.attachments.restore();
    this.flows.adopt(h.keptFlows(), (k) => {
      const att = this.attachments.byMarkId(k.meta.attachmentId);
      if (!att || att.vif !== k.meta.vif) return `${k.meta.vif} is not attached again`;
      try { return { vif: att, profile: profileFor(this.config.current, k.meta.profile, k.meta.options) }; } catch (e) { return (e as Error).message; }
    });
    await h.ready(this.routing.removeCommands());
    this.log.info(`xlnetd ${VERSION} ready: listener port ${this.listenPort}, control ${this.socketPath}, config ${this.config.current.source}`);
  }

  /** Re-reads xlnet.conf; attachments keep running with their profile until changed. */
  reload(): { profiles: string[] } {
    return this.config.reload(this.log);
  }

  status(): StatusInfo {
    const t = this.flows.totals();
    const mem = process.memoryUsage();
    const cfg = this.config.current;
    return {
      version: VERSION, protocol: PROTOCOL_VERSION, pid: process.pid, uptimeSec: Math.round((Date.now() - this.startedAt) / 1000),
      listenPort: this.listenPort, configFile: cfg.source, attachments: this.attachments.size,
      flows: t.open, flowsTotal: t.total, bytesUp: t.up, bytesDown: t.down,
      memory: { rss: mem.rss, heapUsed: mem.heapUsed, bufferedBytes: t.buffered },
      profiles: [...cfg.profiles.keys()],
      datapath: { ...this.host.info(), kernelFlows: t.kernelFlows },
    };
  }

  private ops(): ControlOps {
    const a = this.attachments;
    return {
      hello: () => ({ version: VERSION, protocol: PROTOCOL_VERSION }),
      status: () => this.status(),
      list: () => a.list(),
      attach: (vif, profile, options, domain, required) => a.attach(vif, profile, options, domain, required),
      detach: (vif, mode) => a.detach(vif, mode),
      set: (vif, profile, options) => a.set(vif, profile, options),
      flows: (vif) => this.flows.info(vif, (cookie) => this.host.datapath?.flow(cookie)),
      reload: () => this.reload(),
    };
  }

  /**
   * Stop (SIGTERM: an upgrade, a restart, or the service going off). New
   * connections go direct at once: every vif's SYN rules go in one batch,
   * before anything else. Split flows are handed to the keeper with their
   * steering, for the next xlnetd (the keeper resets them if none comes
   * within its grace time); with none to hand over (or no keeper) the rules,
   * policy routes and sysctl are removed now and the flows reset.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.routing.unwatch();
    this.flows.stopSampling();
    if (this.nft.alive && this.attachments.size) {
      await this.nft.atomically(this.attachments.newFlowsDirect()).catch((e: Error) => this.log.warn(`new connections may still be diverted: ${e.message}`));
    }
    await this.control.close();
    this.acceptor.close();
    if (this.handover?.alive && this.flows.size > 0) {
      const r = await this.flows.handOverAll(HANDOVER_MS);
      this.log.info(`handing ${r.flows} flow(s) over to the keeper${r.stuck ? `; ${r.stuck} byte(s) could not be written and are lost` : ''}` +
        `${r.unknown ? `; ${r.unknown} relayed by the kernel engine or still connecting (reset by the next xlnetd if bytes are missing)` : ''}`);
      await this.handover.leave(true);
    } else {
      this.flows.abortAll('xlnetd stopping');
      await this.nft.close();
      await this.routing.remove();
      await this.handover?.leave(false);
    }
    this.host.close();
    this.log.info('xlnetd stopped');
  }
}
