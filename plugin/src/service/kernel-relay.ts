// KernelRelay: the kernel relay engine for one split connection. The two legs
// are spliced in the kernel (datapath/relay.bpf.c: a sockmap stream verdict
// redirects what one socket receives to the other's egress), and xlnetd only
// does what the kernel does not (shared/docs/platform.md, "sockmap hazards"):
//
//  - backpressure: the verdict keeps what the kernel holds for a direction
//    (redirect queue + target's send queue) within `limit`; beyond it, data is
//    PASSED to xlnetd and stays in the source socket, charged to its receive
//    buffer, so the sender's window closes. xlnetd writes passed data to the
//    target itself, but only once the redirect queue before it is empty; the
//    verdict redirects again once every passed byte was written.
//  - FIN: never redirected (a zero-length skb would break the target). At the
//    end of stream xlnetd shuts the target's write side down only after every
//    byte before the FIN reached the target's socket.
//  - RST: seen as an error on a leg (or its state at the health check), and
//    carried to the other leg as a reset.
//  - ownership: the maps hold sockets, not files, and Node closes the fd it
//    wraps after EOF; the engine works on dup()s it owns and closes them last.
//  - no socket leaves the verdict map while data may arrive (removing one
//    while its verdict runs can drop data): only at the end or on a reset.
//
// A socket that cannot be inserted (it already got a FIN: EOPNOTSUPP) makes
// start() fail; the caller relays that connection in user space instead.
import net from 'node:net';
import * as libc from '../ffi/libc.js';

export interface RelayCtl { peer: bigint; limit: number; baseAcked: number; forwarded: number }
export interface RelayStat { redirected: number; passed: number; passing: boolean; noTarget: number }

/** What the engine needs from the datapath (plugin/src/datapath Datapath fits). */
export interface RelayMaps {
  relayInsert(which: 'targets' | 'sources', cookie: bigint, fd: number): void;
  relayRemove(which: 'targets' | 'sources', cookie: bigint): boolean;
  relaySetCtl(source: bigint, ctl: RelayCtl): void;
  relayStat(source: bigint): RelayStat | undefined;
  relayForget(source: bigint): void;
  /** The socket's flow record (counters.bpf.c): the verdict reads the target's bytes_acked there. */
  flow(cookie: bigint): { bytesAcked: number } | undefined;
}

export type LegName = 'guest' | 'wan';
type DirName = 'up' | 'down';

interface Leg {
  name: LegName;
  sock?: net.Socket;
  /** our own dup of the socket: the last fd closed */
  fd: number;
  cookie: bigint;
  /** bytes_acked (tcp_info) when the relay started: where "delivered into the socket" counts from */
  baseInfo: number;
}

interface Direction {
  name: DirName;
  src: Leg;
  dst: Leg;
  ctl: RelayCtl;
  /** passed data read from src, not yet written to dst */
  pending: Buffer[];
  pendingBytes: number;
  /** passed bytes handed to dst.sock.write whose callback has not come */
  writing: number;
  eof: boolean;
  finSent: boolean;
  timer?: NodeJS.Timeout;
}

export interface KernelRelayEvents {
  /** a direction ended: its FIN was forwarded */
  ended(dir: DirName): void;
  /** a leg failed (reset, refused, ...): the relay is torn down, the other leg reset if `reset` */
  failed(leg: LegName, code: string): void;
  /** both directions ended and the sockets were handed back to TCP */
  done(): void;
}

/** Passed data xlnetd holds per direction before it stops reading the source. */
const PENDING_HIGH_WATER = 256 * 1024;
/** How often a direction waiting for the redirect queue to drain looks again. */
const DRAIN_POLL_MS = 5;
/** How often a leg's state is checked (a reset on a leg nobody reads from). */
const HEALTH_POLL_MS = 500;
const TCP_CLOSE = 7; // include/net/tcp_states.h

function nodeFd(s: net.Socket): number {
  const h = (s as unknown as { _handle?: { fd?: number } })._handle;
  if (!h || typeof h.fd !== 'number' || h.fd < 0) throw new Error('socket has no file descriptor');
  return h.fd;
}

export class KernelRelay {
  private readonly legs: Record<LegName, Leg>;
  private readonly dirs: Record<DirName, Direction>;
  private healthTimer?: NodeJS.Timeout;
  private finished = false;
  /** the byte counts at finish, when the kernel's statistics are gone */
  private final?: { up: number; down: number };

  private constructor(private readonly maps: RelayMaps, guest: Leg, wan: Leg, limit: number, private readonly ev: KernelRelayEvents) {
    this.legs = { guest, wan };
    const mk = (name: DirName, src: Leg, dst: Leg): Direction => ({
      name, src, dst, pending: [], pendingBytes: 0, writing: 0, eof: false, finSent: false,
      ctl: { peer: dst.cookie, limit, baseAcked: maps.flow(dst.cookie)!.bytesAcked, forwarded: 0 },
    });
    this.dirs = { up: mk('up', guest, wan), down: mk('down', wan, guest) };
  }

  /**
   * Splices an accepted guest socket (paused, never read) and a connected
   * WAN-leg fd (not yet wrapped by Node: nothing read from it). Returns the
   * engine, or the reason it cannot take this connection (nothing is left in
   * the maps then, and both sockets are as they were).
   */
  static start(maps: RelayMaps, guestSock: net.Socket, wanFd: number, limit: number, ev: KernelRelayEvents): KernelRelay | string {
    const fds: number[] = [];
    const inserted: Array<['targets' | 'sources', bigint]> = [];
    let relay: KernelRelay | undefined;
    try {
      const leg = (name: LegName, fd: number): Leg => {
        const own = libc.dup(fd);
        fds.push(own);
        const cookie = libc.socketCookie(own);
        if (!maps.flow(cookie)) throw new Error(`the ${name} leg has no flow record (not registered with the datapath)`);
        return { name, fd: own, cookie, baseInfo: libc.tcpInfo(own).bytes_acked };
      };
      const guest = leg('guest', nodeFd(guestSock));
      guest.sock = guestSock;
      const wan = leg('wan', wanFd);
      relay = new KernelRelay(maps, guest, wan, limit, ev);
      for (const d of Object.values(relay.dirs)) maps.relaySetCtl(d.src.cookie, d.ctl);
      for (const which of ['targets', 'sources'] as const) {
        for (const l of [guest, wan]) {
          maps.relayInsert(which, l.cookie, l.fd);
          inserted.push([which, l.cookie]);
        }
      }
      // Data that arrived before the verdict was attached waits for a read to
      // be looked at: a peek makes the kernel run the verdict over it.
      for (const l of [guest, wan]) libc.recv(l.fd, Buffer.alloc(1), libc.MSG_PEEK | libc.MSG_DONTWAIT);
      return relay;
    } catch (e) {
      for (const [which, cookie] of inserted.reverse()) { try { maps.relayRemove(which, cookie); } catch { /* gone */ } }
      if (relay) for (const d of Object.values(relay.dirs)) { try { maps.relayForget(d.src.cookie); } catch { /* gone */ } }
      for (const fd of fds) libc.close(fd);
      const code = (e as libc.SysError).code;
      return code === 'EOPNOTSUPP' ? 'a leg is no longer open both ways (it got a FIN before the splice)' : (e as Error).message;
    }
  }

  /** Hands the engine the WAN leg's Node socket (made after start) and lets passed data and events flow. */
  run(wanSock: net.Socket): void {
    this.legs.wan.sock = wanSock;
    for (const d of Object.values(this.dirs)) this.wire(d);
    for (const l of Object.values(this.legs)) {
      l.sock!.on('error', (e: NodeJS.ErrnoException) => this.fail(l.name, e.code ?? 'EIO'));
    }
    this.healthTimer = setInterval(() => this.checkHealth(), HEALTH_POLL_MS);
    this.healthTimer.unref();
    this.legs.guest.sock!.resume();
  }

  private wire(d: Direction): void {
    const src = d.src.sock!;
    src.on('data', (chunk: Buffer) => {
      d.pending.push(chunk);
      d.pendingBytes += chunk.length;
      if (d.pendingBytes >= PENDING_HIGH_WATER) src.pause();
      this.pump(d);
    });
    src.on('end', () => {
      d.eof = true;
      this.pump(d);
    });
  }

  /** Bytes redirected to the direction's target that are not in its socket yet. */
  private redirectQueue(d: Direction): number {
    const st = this.maps.relayStat(d.src.cookie);
    if (!st) return 0;
    // acked first, then the send queue: a concurrent ACK can only make this look bigger
    const acked = libc.tcpInfo(d.dst.fd).bytes_acked - d.dst.baseInfo;
    const inSocket = acked + libc.outq(d.dst.fd);
    return st.redirected + d.ctl.forwarded - inSocket;
  }

  private pump(d: Direction): void {
    if (this.finished) return;
    clearTimeout(d.timer);
    d.timer = undefined;
    const dst = d.dst.sock!;
    if (dst.destroyed) return;
    if (d.pendingBytes > 0) {
      if (dst.writableLength > 0) { dst.once('drain', () => this.pump(d)); return; }
      let queued: number;
      try { queued = this.redirectQueue(d); } catch { return; } // the leg is gone: its error tears down
      if (queued > 0) { d.timer = setTimeout(() => this.pump(d), DRAIN_POLL_MS); return; }
      const chunks = d.pending.splice(0);
      const n = d.pendingBytes;
      d.pendingBytes = 0;
      d.writing += n;
      const buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      dst.write(buf, (err) => {
        d.writing -= n;
        if (err || this.finished) return;
        d.ctl.forwarded += n;
        try { this.maps.relaySetCtl(d.src.cookie, d.ctl); } catch { /* closing */ }
        this.pump(d);
      });
      if (!d.src.sock!.destroyed && d.src.sock!.isPaused() && !d.eof) d.src.sock!.resume();
      return;
    }
    if (d.eof && !d.finSent && d.writing === 0) {
      let queued: number;
      try { queued = this.redirectQueue(d); } catch { return; }
      if (queued > 0) { d.timer = setTimeout(() => this.pump(d), DRAIN_POLL_MS); return; }
      // Everything before the FIN is in the target's socket: TCP sends the FIN after it.
      d.finSent = true;
      dst.end();
      this.ev.ended(d.name);
      if (this.dirs.up.finSent && this.dirs.down.finSent) this.finish(false);
    }
  }

  private checkHealth(): void {
    for (const l of Object.values(this.legs)) {
      let state = 0;
      try { state = libc.tcpInfo(l.fd).state; } catch { continue; }
      if (state !== TCP_CLOSE) continue;
      let err = 0;
      try { err = libc.getInt(l.fd, libc.SOL_SOCKET, libc.SO_ERROR); } catch { /* closed */ }
      if (err !== 0) {
        this.fail(l.name, libc.errnoName(err));
        return;
      }
    }
  }

  private fail(leg: LegName, code: string): void {
    if (this.finished) return;
    this.ev.failed(leg, code);
  }

  /** The guest leg will send nothing more (its vif is gone): forward what it sent, then the FIN. */
  endUp(): void {
    const d = this.dirs.up;
    if (!d.eof) { d.eof = true; this.pump(d); }
  }

  /** Bytes relayed per direction: redirected in the kernel plus written by xlnetd. */
  bytes(): { up: number; down: number } {
    if (this.final) return this.final;
    const count = (d: Direction) => {
      let st: RelayStat | undefined;
      try { st = this.maps.relayStat(d.src.cookie); } catch { st = undefined; }
      return (st?.redirected ?? 0) + d.ctl.forwarded;
    };
    return { up: count(this.dirs.up), down: count(this.dirs.down) };
  }

  /** Kernel-side numbers of a direction (tests, status). */
  stat(dir: DirName): RelayStat | undefined {
    return this.maps.relayStat(this.dirs[dir].src.cookie);
  }

  /**
   * Takes the sockets out of the kernel relay and closes xlnetd's copies. With
   * `reset` the other sockets' last close sends a reset (SO_LINGER 0);
   * otherwise TCP delivers what is queued and closes normally.
   */
  finish(reset: boolean): void {
    if (this.finished) return;
    this.final = this.bytes();
    this.finished = true;
    clearInterval(this.healthTimer);
    for (const d of Object.values(this.dirs)) clearTimeout(d.timer);
    for (const l of Object.values(this.legs)) {
      if (reset) { try { libc.setResetOnClose(l.fd); } catch { /* already closed */ } }
      for (const which of ['sources', 'targets'] as const) { try { this.maps.relayRemove(which, l.cookie); } catch { /* datapath closed */ } }
      try { this.maps.relayForget(l.cookie); } catch { /* datapath closed */ }
      libc.close(l.fd);
    }
    if (!reset) this.ev.done();
  }
}
