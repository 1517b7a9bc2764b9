// SplitConnection: one guest connection terminated in Dom0 (the guest leg,
// acknowledged locally by Dom0's TCP) and its WAN leg to the real destination,
// bound to the guest's own address so the destination sees the guest.
//
// The user-space relay engine (user-relay.ts) moves bytes between the legs
// reading only what the other leg's send buffer takes at once, so Dom0 holds
// the kernel socket buffers and next to nothing in xlnetd: a restarted xlnetd
// takes the sockets back from the keeper and goes on (adopt). Half-close is
// carried through (a FIN is sent on the other leg only after every byte before
// it was written), resets are carried both ways, and a destination that
// refuses or never answers ends the guest's connection with a reset.
//
// With the kernel engine (kernel-relay.ts) the bytes move in the kernel once
// the WAN leg is connected; a connection the kernel cannot take (a leg that
// already got its FIN) is relayed here in user space instead.
import net from 'node:net';
import * as libc from '../ffi/libc.js';
import { fdOf } from './socket-fd.js';
import { applyLeg, legSettings, type LegSettings } from './tcp-options.js';
import { KernelRelay, unsplice, type RelayMaps } from './kernel-relay.js';
import { UserRelay, type UserRelayEvents } from './user-relay.js';
import { directionPosition, legAlive, legPosition } from './stream-position.js';
import type { Profile } from '../config/index.js';

export type FlowState = 'connecting' | 'open' | 'half-closed' | 'closing';

export interface Endpoint { ip: string; port: number }

export interface SplitHooks {
  /** the WAN leg could not keep the guest's port: the steering must know the tuple it uses */
  rememberTuple(guest: Endpoint, wanLocal: Endpoint, dst: Endpoint): Promise<void>;
  closed(flow: SplitConnection, reason: string): void;
  log(level: 'debug' | 'info' | 'warn', msg: string): void;
  /** Registers the WAN-leg socket with the datapath (tuning, counters) before
   * connect(); absent when BPF is not available. */
  registerWan?(fd: number, relay: boolean): void;
  /** The options accepted sockets inherit from the transparent listener: the
   * guest leg sets only what its profile does differently. */
  listenerGuest?: LegSettings;
  /** Both legs are open and relaying (their fds are valid for this call only):
   * the keeper takes its copies here. */
  opened?(flow: SplitConnection, guestFd: number, wanFd: number): void;
}

export type RelayEngine = 'user' | 'kernel';

/** User-space bytes a direction may hold above the kernel buffers before the sender is paused. */
export const RELAY_HIGH_WATER = 256 * 1024;

const RESET_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ECONNABORTED', 'EADDRNOTAVAIL']);



export class SplitConnection {
  readonly startedAt = Date.now();
  state: FlowState = 'connecting';
  /** bytes relayed in user space (the user engine, or before/after the kernel's part) */
  private relayed = { up: 0, down: 0 };
  wanLocal: Endpoint;
  wan?: net.Socket;
  /** the WAN leg's socket cookie (datapath flow key), once it has one */
  wanCookie?: bigint;
  private guestCookie?: bigint;
  /** the engine that relays this connection; 'kernel' only once the splice is in place */
  engine: RelayEngine = 'user';
  private kernel?: KernelRelay;
  private user?: UserRelay;
  /** the remote's FIN reached xlnetd (user engine) or was forwarded to the guest (kernel) */
  get remoteEnded(): boolean { return this.ended.down; }
  private ended = { up: false, down: false };
  private done = false;
  private guestGone = false;
  private connectTimer?: NodeJS.Timeout;
  private idleTimer?: NodeJS.Timeout;
  private lastActivity = Date.now();
  // rate sampling
  private sample = { t: Date.now(), up: 0, down: 0 };
  rateUp = 0;
  rateDown = 0;

  constructor(
    readonly id: number,
    readonly vif: string,
    readonly attachmentId: number,
    /** the guest leg (the user engine swaps the accepted socket for its own) */
    public guestSock: net.Socket,
    readonly guest: Endpoint,
    readonly dst: Endpoint,
    readonly profile: Profile,
    private readonly hooks: SplitHooks,
    /** the kernel relay maps, when this connection should use the kernel engine */
    private readonly kernelMaps?: RelayMaps,
  ) {
    this.wanLocal = { ...guest };
  }

  /** Kernel engine: bytes redirected but not yet in the target socket (memory no socket accounts for). */
  get kernelQueued(): number | undefined { return this.engine === 'kernel' ? this.kernel?.queued() : undefined; }

  /** guest -> remote bytes delivered into the WAN leg */
  get bytesUp(): number { return this.relayed.up + (this.kernel?.bytes().up ?? 0); }
  /** remote -> guest bytes delivered into the guest leg */
  get bytesDown(): number { return this.relayed.down + (this.kernel?.bytes().down ?? 0); }

  /** Applies the guest leg's settings, opens the WAN leg and starts relaying. */
  async start(): Promise<void> {
    const p = this.profile;
    const g = this.guestSock;
    g.on('error', (e: NodeJS.ErrnoException) => this.onLegError('guest', e.code ?? 'EIO'));
    if (this.kernelMaps) {
      try { this.guestCookie = libc.socketCookie(fdOf(g)); } catch { /* closed already: the error handler finishes */ }
      const r = KernelRelay.spliceGuest(this.kernelMaps, g, p.buffer, {
        ended: (dir) => {
          this.ended[dir] = true;
          if (this.state === 'open') this.state = 'half-closed';
        },
        failed: (leg, code) => this.onLegError(leg, code),
        done: () => undefined, // the Node sockets close next: onClose finishes the flow
      });
      if (typeof r === 'string') this.hooks.log('debug', `flow ${this.id}: user-space relay (kernel engine: ${r})`);
      else this.kernel = r;
    }
    for (const w of applyLeg(fdOf(g), legSettings(p, 'guest'), this.hooks.listenerGuest)) this.hooks.log('warn', `flow ${this.id}: guest leg: ${w}`);

    const family = net.isIPv6(this.dst.ip) ? 6 : 4;
    let fd = -1;
    try {
      // bind fails when a Dom0 socket holds the port; connect when the 4-tuple is in use.
      fd = this.bindWan(family, this.guest.port);
      libc.connectStart(fd, this.dst.ip, this.dst.port);
    } catch (e) {
      if (fd >= 0) libc.close(fd);
      const code = (e as libc.SysError).code;
      if (code !== 'EADDRINUSE' && code !== 'EADDRNOTAVAIL') throw e;
      // The guest's port is taken in Dom0 for this destination (a previous
      // connection on the same 4-tuple still in TIME_WAIT, say): use another
      // port, and make the steering divert that tuple's replies before the SYN leaves.
      fd = this.bindWan(family, 0);
      this.wanLocal = { ip: this.guest.ip, port: libc.localPort(fd) };
      this.hooks.log('info', `flow ${this.id}: ${this.guest.ip}:${this.guest.port} busy in Dom0 (${code}); WAN leg uses port ${this.wanLocal.port}`);
      try {
        await this.hooks.rememberTuple(this.guest, this.wanLocal, this.dst);
        libc.connectStart(fd, this.dst.ip, this.dst.port);
      } catch (e2) {
        libc.close(fd);
        throw e2;
      }
    }
    if (this.kernel && await this.startKernel(fd, this.kernel)) return;
    if (!(await this.connected(fd))) return;
    this.startUser(fd);
  }

  /**
   * Waits for the WAN leg's connect. False when the connection is taken care
   * of (refused, timed out, the guest gone: the fd is closed); true once it is
   * established.
   */
  private async connected(fd: number): Promise<boolean> {
    const deadline = Date.now() + this.profile.connect_timeout * 1000;
    for (let delay = 0; ; delay = Math.min(delay + 1, 10)) {
      if (this.done) { libc.close(fd); return false; }
      let st = libc.TCP_CLOSE;
      try { st = libc.tcpInfo(fd).state; } catch { /* reported as closed */ }
      if (st === libc.TCP_CLOSE) {
        let err = 0;
        try { err = libc.getInt(fd, libc.SOL_SOCKET, libc.SO_ERROR); } catch { /* closed */ }
        libc.close(fd);
        this.onLegError('wan', err ? libc.errnoName(err) : 'ECONNREFUSED');
        return false;
      }
      if (st !== libc.TCP_SYN_SENT) return true;
      if (Date.now() > deadline) {
        libc.close(fd);
        this.abort(`no answer from ${this.dst.ip}:${this.dst.port} within ${this.profile.connect_timeout}s`);
        return false;
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  /** The user engine on the connected WAN leg; the guest leg moves to a socket of its own (sized reads). */
  private startUser(wanFd: number): void {
    const accepted = this.guestSock;
    let guestFd: number;
    try { guestFd = libc.dup(fdOf(accepted)); } catch (e) {
      libc.close(wanFd);
      this.onLegError('guest', (e as libc.SysError).code ?? 'EIO');
      return;
    }
    accepted.removeAllListeners('error');
    accepted.on('error', () => undefined);
    accepted.destroy(); // closes Node's fd only: the dup keeps the connection
    this.runUser(new UserRelay(guestFd, wanFd, this.profile.wan_notsent_lowat, this.userEvents()));
    this.hooks.opened?.(this, guestFd, wanFd);
  }

  private userEvents(): UserRelayEvents {
    return {
      moved: (dir, n) => { this.lastActivity = Date.now(); this.relayed[dir] += n; },
      ended: (dir) => {
        this.ended[dir] = true;
        if (this.state === 'open') this.state = 'half-closed';
      },
      error: (leg, e) => this.onLegError(leg, e.code ?? 'EIO'),
      close: () => this.onClose(),
    };
  }

  private runUser(r: UserRelay): void {
    this.user = r;
    this.guestSock = r.guest;
    this.wan = r.wan;
    this.markOpen();
    if (this.profile.idle_timeout > 0) this.armIdle();
    r.start();
  }

  /**
   * Takes over a connection a previous xlnetd relayed (the keeper held its
   * sockets): repeated bytes at the head of a source are thrown away; a hole
   * (bytes taken from a source and never written: lost with the old xlnetd)
   * or a closed leg refuses the adoption (the caller resets the connection).
   * Relayed by the user engine from here.
   */
  static adopt(
    id: number, vif: string, attachmentId: number, guestFd: number, wanFd: number,
    ends: { guest: Endpoint; dst: Endpoint; wanLocal: Endpoint }, profile: Profile, hooks: SplitHooks,
  ): SplitConnection | string {
    const g = legPosition(guestFd, false), w = legPosition(wanFd, true);
    if (!legAlive(g) || !legAlive(w)) return `a leg is closed (TCP states ${g.state}, ${w.state})`;
    const up = directionPosition(g, w), down = directionPosition(w, g);
    if (up.lost || down.lost) return `${up.lost} byte(s) up and ${down.lost} down were lost with the previous xlnetd (guest leg ${JSON.stringify(g)}, WAN leg ${JSON.stringify(w)})`;
    for (const [fd, n] of [[guestFd, up.repeated], [wanFd, down.repeated]] as const) {
      for (let left = n; left > 0;) {
        const k = libc.discard(fd, left);
        if (k <= 0) return `cannot skip ${left} repeated byte(s)`;
        left -= k;
      }
    }
    let flow: SplitConnection | undefined;
    const ev: UserRelayEvents = {
      moved: (dir, n) => flow!.userEvents().moved(dir, n),
      ended: (dir) => flow!.userEvents().ended(dir),
      error: (leg, e) => flow!.onLegError(leg, e.code ?? 'EIO'),
      close: () => flow!.onClose(),
    };
    const r = new UserRelay(guestFd, wanFd, profile.wan_notsent_lowat, ev);
    flow = new SplitConnection(id, vif, attachmentId, r.guest, ends.guest, ends.dst, profile, hooks);
    flow.wanLocal = { ...ends.wanLocal };
    flow.ended = { up: up.finCarried, down: down.finCarried };
    flow.state = 'connecting';
    flow.runUser(r);
    if (up.finCarried || down.finCarried) flow.state = 'half-closed';
    return flow;
  }

  /**
   * Hands the connection over to the keeper for the next xlnetd: stops
   * relaying and waits (at most `ms`) until the bytes read are in the sockets.
   * Resolves with the bytes still in xlnetd (lost at exit), or -1 when this
   * engine cannot tell (the kernel engine; a connection still connecting).
   */
  async handOver(ms: number): Promise<number> {
    clearTimeout(this.idleTimer);
    clearTimeout(this.connectTimer);
    if (!this.user) return -1;
    const left = await this.user.quiesce(ms);
    try {
      const g = legPosition(fdOf(this.guestSock), false), w = legPosition(fdOf(this.wan!), true);
      this.hooks.log('debug', `flow ${this.id}: handed over, relayed up ${this.relayed.up} down ${this.relayed.down}, guest leg ${JSON.stringify(g)}, WAN leg ${JSON.stringify(w)}`);
    } catch { /* a leg closed */ }
    return left;
  }

  /**
   * Waits for the WAN leg to connect, then splices the legs in the kernel.
   * True when the connection is taken care of (spliced, or ended: refused,
   * timed out, guest gone); false to relay it in user space.
   */
  private async startKernel(fd: number, relay: KernelRelay): Promise<boolean> {
    if (!(await this.connected(fd))) return true;
    this.markOpen();
    const spliced = relay.spliceWan(fd);
    if (spliced !== true) {
      // The guest leg stays in the maps (its data is passed to us) until the flow ends.
      this.hooks.log('debug', `flow ${this.id}: user-space relay (kernel engine: ${spliced})`);
      return false;
    }
    this.engine = 'kernel';
    const wan = new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
    this.wan = wan;
    wan.on('error', (e: NodeJS.ErrnoException) => this.onLegError('wan', e.code ?? 'EIO'));
    this.guestSock.on('close', () => this.onClose());
    wan.on('close', () => this.onClose());
    if (this.profile.idle_timeout > 0) this.armIdle();
    relay.run(wan);
    this.hooks.opened?.(this, fdOf(this.guestSock), fd);
    return true;
  }

  /** Creates the WAN-leg socket with the profile's settings, bound to the guest's address. */
  private bindWan(family: 4 | 6, port: number): number {
    const fd = libc.tcpSocket(family);
    try {
      libc.setInt(fd, family === 6 ? libc.IPPROTO_IPV6 : libc.IPPROTO_IP, family === 6 ? libc.IPV6_TRANSPARENT : libc.IP_TRANSPARENT, 1, 'IP_TRANSPARENT');
      libc.setInt(fd, libc.SOL_SOCKET, libc.SO_REUSEADDR, 1, 'SO_REUSEADDR');
      for (const w of applyLeg(fd, legSettings(this.profile, 'wan'))) this.hooks.log('warn', `flow ${this.id}: WAN leg: ${w}`);
      libc.bind(fd, this.guest.ip, port);
      if (this.hooks.registerWan) {
        try {
          this.hooks.registerWan(fd, this.kernel !== undefined);
          this.wanCookie = libc.socketCookie(fd);
        } catch (e) {
          this.hooks.log('warn', `flow ${this.id}: WAN leg not tuned: ${(e as Error).message}`);
        }
      }
      return fd;
    } catch (e) {
      libc.close(fd);
      throw e;
    }
  }

  private markOpen(): void {
    if (this.state !== 'connecting') return;
    this.state = 'open';
    clearTimeout(this.connectTimer);
  }

  private armIdle(): void {
    const ms = this.profile.idle_timeout * 1000;
    this.idleTimer = setTimeout(() => {
      const idle = Date.now() - this.lastActivity;
      if (idle >= ms) this.abort(`idle for ${Math.round(idle / 1000)}s`);
      else this.armIdle();
    }, Math.max(1000, ms - (Date.now() - this.lastActivity)));
    this.idleTimer.unref();
  }

  /** A leg failed with errno `code` (ECONNRESET, ECONNREFUSED, ...). */
  private onLegError(leg: 'guest' | 'wan', code: string): void {
    if (this.done) return;
    this.hooks.log('debug', `flow ${this.id}: ${leg} leg ${code}`);
    // A reset (or refusal, or timeout) on one leg becomes a reset on the other.
    this.kernel?.finish(RESET_CODES.has(code));
    const other = leg === 'guest' ? this.wan : this.guestSock;
    if (other && !other.destroyed) {
      if (RESET_CODES.has(code)) other.resetAndDestroy(); else other.destroy();
    }
    const self = leg === 'guest' ? this.guestSock : this.wan;
    if (self && !self.destroyed) self.destroy();
    this.finish(`${leg} ${code}`);
  }

  /** Ends both legs with a reset (detach --reset, timeouts, policy). */
  abort(reason: string): void {
    if (this.done) return;
    this.hooks.log('debug', `flow ${this.id}: reset (${reason})`);
    this.kernel?.finish(true);
    if (!this.guestSock.destroyed) this.guestSock.resetAndDestroy();
    if (this.wan && !this.wan.destroyed) this.wan.resetAndDestroy();
    this.finish(reason);
  }

  /**
   * The guest's vif went away: what Dom0 already acknowledged to the guest is
   * still delivered. Read the guest leg's queue to the end, then send FIN on
   * the WAN leg after the last byte and drop the guest leg.
   */
  guestVanished(lingerMs = 60_000): void {
    if (this.done || this.guestGone) return;
    this.guestGone = true;
    if (this.kernel && this.engine === 'kernel') {
      // The kernel forwards what the guest leg still holds; the FIN follows it.
      this.kernel.endUp();
      setTimeout(() => { if (!this.done) this.abort('guest gone, linger over'); }, lingerMs).unref();
      return;
    }
    const g = this.guestSock;
    const poll = setInterval(() => {
      let queued = 0;
      try { queued = g.destroyed ? 0 : libc.inq(fdOf(g)); } catch { queued = 0; }
      if (queued > 0 || g.readableLength > 0 || (g.isPaused() && !g.destroyed && queued > 0)) return;
      clearInterval(poll);
      if (this.wan && !this.wan.destroyed) this.wan.end();
      if (!g.destroyed) g.destroy();
      // The remote may keep its side open; do not wait for ever.
      setTimeout(() => { if (!this.done) this.abort('guest gone, linger over'); }, lingerMs).unref();
    }, 50);
  }

  private onClose(): void {
    if (this.guestSock.destroyed && (!this.wan || this.wan.destroyed)) {
      this.kernel?.finish(false);
      this.finish('closed');
    }
    else this.state = 'closing';
  }

  private finish(reason: string): void {
    if (this.done) return;
    this.done = true;
    this.kernel?.finish(false);
    if (this.kernel?.summary) this.hooks.log('debug', `flow ${this.id}: kernel relay ${JSON.stringify(this.kernel.summary)}`);
    // Sockets the datapath spliced at establishment that the engine never
    // adopted (a fallback to user space, an abort) leave the maps here.
    if (this.kernelMaps) {
      for (const c of [this.guestCookie, this.wanCookie]) if (c !== undefined) unsplice(this.kernelMaps, c);
    }
    this.state = 'closing';
    clearTimeout(this.connectTimer);
    clearTimeout(this.idleTimer);
    this.hooks.closed(this, reason);
  }

  get closed(): boolean { return this.done; }

  /** Updates rates; called once a second by the flow table. */
  sampleRates(now: number): void {
    const dt = (now - this.sample.t) / 1000;
    if (dt <= 0) return;
    const bytesUp = this.bytesUp, bytesDown = this.bytesDown;
    // The kernel engine moves bytes without xlnetd seeing them: count that as activity.
    if (bytesUp !== this.sample.up || bytesDown !== this.sample.down) this.lastActivity = now;
    const up = ((bytesUp - this.sample.up) * 8) / dt;
    const down = ((bytesDown - this.sample.down) * 8) / dt;
    // smoothed over a few seconds
    this.rateUp = this.rateUp * 0.5 + up * 0.5;
    this.rateDown = this.rateDown * 0.5 + down * 0.5;
    this.sample = { t: now, up: bytesUp, down: bytesDown };
  }
}
