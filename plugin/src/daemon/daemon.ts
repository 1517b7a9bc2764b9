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
// Run-time administration (attach, detach with drain or reset, option changes)
// never needs a restart and never disturbs a flow already running.
import { writeFileSync } from 'node:fs';
import { NftSession } from '../steering/nft-session.js';
import { baseRules } from '../steering/rules.js';
import { Acceptor } from './acceptor.js';
import { Attachments } from './attachments.js';
import type { VifAttachment } from './attachment.js';
import { ConfigSource } from './config-source.js';
import { ControlServer, type ControlOps } from './control-server.js';
import { DatapathHost } from './datapath-host.js';
import { FlowTable } from './flow-table.js';
import { Logger } from './log.js';
import { PROTOCOL_VERSION, type StatusInfo } from './protocol.js';
import { Routing } from './routing.js';
import { StateStore } from './state-store.js';

export const VERSION = '0.1.0';

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
  private readonly startedAt = Date.now();
  listenPort = 0;
  private stopping = false;

  constructor(private readonly opts: DaemonOptions) {
    this.config = new ConfigSource(opts.configFile);
    const cfg = () => this.config.current;
    const log = this.log = opts.logger ?? new Logger(cfg().daemon.log_level);
    this.host = new DatapathHost(log);
    this.routing = new Routing(this.nft, log);
    const store = new StateStore(opts.stateDir ?? cfg().daemon.state_dir, log);
    this.attachments = new Attachments({ config: cfg, nft: this.nft, host: this.host, flows: () => this.flows, store, log });
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
    // Accepted sockets carry the SYN's fwmark, which names the attachment.
    writeFileSync('/proc/sys/net/ipv4/tcp_fwmark_accept', '1');
    this.listenPort = await this.acceptor.listen(this.config.current.daemon.listen_port);
    this.nft.onExit = (why) => { if (!this.stopping) this.log.error(`steering lost (${why}): guests' connections now go direct`); };
    this.nft.start();
    await this.nft.runAll(baseRules(this.listenPort));
    await this.routing.install();
    await this.control.listen();
    this.flows.startSampling();
    this.routing.watch(this.attachments);
    await this.attachments.restore();
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

  /** Clean shutdown: steering removed (guests go direct), state kept for the next start. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.routing.unwatch();
    this.flows.stopSampling();
    await this.control.close();
    await this.acceptor.close();
    await this.nft.close();
    await this.routing.remove();
    this.flows.abortAll('xlnetd stopping');
    this.host.close();
    this.log.info('xlnetd stopped');
  }
}
