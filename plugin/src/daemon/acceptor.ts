// The transparent listener and the decision on each connection it accepts:
// which attachment diverted it (the SYN's fwmark), whether it may be split
// (the flow table's limits, the destination check of service/policy.ts), and
// with what (tuning slot, relay engine); then the flow table takes it. A
// connection that is not split is reset: the guest retries, and its SYN is not
// diverted again once the steering forgot it (or it was never in a flow set).
import { readFileSync } from 'node:fs';
import type net from 'node:net';
import * as libc from '../ffi/libc.js';
import type { XlnetConfig } from '../config/index.js';
import { MARK_BASE, MARK_MASK } from '../steering/rules.js';
import { TransparentListener } from '../service/listener.js';
import { judgeDestination, plainIp } from '../service/policy.js';
import { fdOf } from '../service/socket-fd.js';
import type { Endpoint } from '../service/split-connection.js';
import { applyLeg, legSettings, type LegSettings } from '../service/tcp-options.js';
import type { DatapathHost } from './datapath-host.js';
import type { FlowTable, FlowTuning } from './flow-table.js';
import type { VifAttachment } from './attachment.js';
import type { Logger } from './log.js';

export interface AcceptorDeps {
  config: () => XlnetConfig;
  /** the attachment a mark's low 16 bits name */
  attachment(id: number): VifAttachment | undefined;
  /** Dom0's own addresses (routing.ts) */
  local: () => Set<string>;
  flows: FlowTable<VifAttachment>;
  host: DatapathHost;
  log: Logger;
}

export class Acceptor {
  private readonly listener = new TransparentListener((s) => this.onConnection(s));
  /** The guest-leg options the transparent listener has (tuneListener). */
  private listenerGuest?: LegSettings;

  constructor(private readonly d: AcceptorDeps) {}

  /**
   * Listens (port 0: one the kernel picks), or serves the listening sockets a
   * previous xlnetd left with the keeper (`kept`: same port, same queue; their
   * options are what that xlnetd set, so every guest leg sets all of its own).
   * Returns the port.
   */
  async listen(port: number, kept?: number[]): Promise<number> {
    const p = kept ? await this.listener.adopt(kept) : await this.listener.listen(port);
    if (!kept) this.tuneListener();
    // Guest legs: accepted sockets inherit this registration (slot 0: no
    // tuning, the guest leg's options are set per profile after accept).
    this.d.host.registerListener(this.listener.fds);
    return p;
  }

  /** The listening sockets (IPv4, then IPv6 when Dom0 has it). */
  get fds(): number[] { return this.listener.fds; }

  /** False when Dom0's loopback has no IPv6 (IPv6 connections are not split). */
  get ipv6(): boolean { return this.listener.ipv6; }

  /** Stops accepting at once (accepted connections are the flow table's). */
  close(): void { this.listener.close(); }

  /**
   * Gives the transparent listener the default profile's guest-leg options,
   * which accepted sockets inherit (so a guest leg needs setsockopt calls only
   * where its profile differs). Done once: changing a listener's options
   * while connections wait in its accept queue would make `listenerGuest`
   * wrong for them, so after a reload the guest legs diff against what the
   * listener really has.
   */
  private tuneListener(): void {
    const cfg = this.d.config();
    const p = cfg.profiles.get(cfg.defaults.profile);
    if (!p) return;
    const s = legSettings(p, 'guest');
    try {
      for (const fd of this.listener.fds) {
        for (const w of applyLeg(fd, s)) this.d.log.warn(`transparent listener: ${w}`);
      }
      this.listenerGuest = s;
    } catch (e) {
      this.d.log.warn(`transparent listener: options not set (${(e as Error).message}); every guest leg sets its own`);
    }
  }

  private onConnection(s: net.Socket): void {
    const { flows, host, log } = this.d;
    if (!s.remoteAddress || !s.localAddress || !s.remotePort || !s.localPort) { s.destroy(); return; }
    const guest: Endpoint = { ip: plainIp(s.remoteAddress), port: s.remotePort };
    const dst: Endpoint = { ip: plainIp(s.localAddress), port: s.localPort };
    let fd = -1, mark = 0;
    try { fd = fdOf(s); mark = libc.getInt(fd, libc.SOL_SOCKET, libc.SO_MARK); } catch { /* closed already */ }
    const att = (mark & MARK_MASK) >>> 0 === MARK_BASE ? this.d.attachment(mark & 0xffff) : undefined;
    if (!att) {
      // Not diverted by xlnet (a local process connecting to the loopback listener): refuse.
      log.warn(`refused connection ${guest.ip}:${guest.port} -> ${dst.ip}:${dst.port}: not from an attached vif (mark 0x${mark.toString(16)})`);
      s.resetAndDestroy();
      return;
    }
    const refuse = (why: string) => {
      flows.refused(att);
      // The datapath may have spliced it at establishment (engine = kernel).
      if (fd >= 0) host.forgetEarlySplice(fd);
      log.info(`${att.vif}: not splitting ${guest.ip}:${guest.port} -> ${dst.ip}:${dst.port}: ${why}`);
      s.resetAndDestroy();
    };
    const limit = flows.admit(att);
    if (limit) return refuse(limit);
    const p = att.profile;
    const verdict = judgeDestination(dst.ip, dst.port, this.d.local(), p.exclude_ports, p.exclude_cidrs);
    if (!verdict.split) return refuse(verdict.reason);

    const id = flows.allocateId();
    let tuning: FlowTuning | undefined;
    try {
      // Buffers are set from user space before connect() with SO_*BUFFORCE
      // (tcp-options.ts); bpf_setsockopt would cap them at wmem_max/rmem_max.
      tuning = host.tuneFlow(fd, att.id, { initcwnd: p.wan_initcwnd || 0, cc: availableCc(p.wan_cc), sndbuf: 0, rcvbuf: 0 });
    } catch (e) {
      log.warn(`${att.vif}: flow ${id} not tuned: ${(e as Error).message}`);
    }
    flows.open(id, { vif: att, guestSock: s, guest, dst, profile: p, options: att.options, relayMaps: host.relayMapsFor(p), tuning, listenerGuest: this.listenerGuest });
  }
}

/** A congestion control the kernel has, or '' (kernel default): the user-space
 * options already warned about a missing one. */
function availableCc(cc: string): string {
  try {
    return readFileSync('/proc/sys/net/ipv4/tcp_available_congestion_control', 'utf8').trim().split(/\s+/).includes(cc) ? cc : '';
  } catch { return ''; }
}
