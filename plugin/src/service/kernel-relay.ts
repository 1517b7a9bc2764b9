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
//  - FIN: never redirected nor queued (a zero-length skb breaks the socket it
//    is queued on: relay.bpf.c drops it). At the end of stream xlnetd shuts
//    the target's write side down only after every byte before the FIN
//    reached the target's socket.
//  - an early end of stream: a passed skb can wait behind redirected data in
//    the source's own psock queue, and the kernel reports the end of stream
//    (RCV_SHUTDOWN) as soon as nothing is readable, even with passed bytes
//    still on their way. So EOF counts only once xlnetd has read as many
//    bytes as the verdict passed; until then it keeps reading the raw fd.
//  - RST: seen as an error on a leg (or its state at the health check), and
//    carried to the other leg as a reset.
//  - ownership: the maps hold sockets, not files, and Node closes the fd it
//    wraps after EOF; the engine works on dup()s it owns and closes them last.
//  - no socket leaves the verdict map while data may arrive (removing one
//    while its verdict runs can drop data): only at the end or on a reset.
//
//  - repeated bytes: TCP queues retransmissions whose front overlaps data it
//    already has; the verdict path hands over whole skbs, so the verdict cuts
//    those fronts off (relay.bpf.c trim_repeated). An skb it cannot examine or
//    cut is dropped and counted in `faults`: the health check then resets the
//    connection rather than deliver a hole. (Before the cut, 500 MB downloads
//    in the lab arrived with 1448*k bytes repeated: 4 of 4 runs.)
//
// The guest leg is spliced at accept (spliceGuest), the WAN leg once it is
// connected (spliceWan). A socket that cannot be inserted (it already got a
// FIN: EOPNOTSUPP) makes that step fail; the caller relays the connection in
// user space instead.
//
// One file over 400 lines on purpose: the rules above hold across the
// splice, the pump of passed data, the end of stream and the teardown, which
// all work on the same per-direction state; split apart, each part would
// reach into the others'.
import net from 'node:net';
import * as libc from '../ffi/libc.js';
import { fdOf } from './socket-fd.js';
import { ServiceError } from './service-error.js';

export interface RelayCtl { peer: bigint; limit: number; baseAcked: number; forwarded: number }
export interface RelayStat { redirected: number; passed: number; passing: boolean; noTarget: number; trimmed: number; gaps: number; faults: number }

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
  /** passed bytes read from src (Node's reads and drainPassed's) */
  read: number;
  eof: boolean;
  finSent: boolean;
  timer?: NodeJS.Timeout;
  /** drainPassed's next look */
  lateTimer?: NodeJS.Timeout;
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
/** How long passed bytes may take to become readable after the end of stream
 * was reported; past it the connection is reset rather than cut short. */
const LATE_PASS_MS = 10_000;
/** How often a leg's state is checked (a reset on a leg nobody reads from). */
const HEALTH_POLL_MS = 500;


export class KernelRelay {
  private legs: Record<LegName, Leg>;
  private dirs: Record<DirName, Direction>;
  private healthTimer?: NodeJS.Timeout;
  private finished = false;
  /** both legs spliced and relaying (not a guest-only splice left behind by a fallback) */
  private running = false;
  /** the byte counts at finish, when the kernel's statistics are gone */
  private final?: { up: number; down: number };
  /** the kernel's statistics at finish (logged by the flow) */
  summary?: { up?: RelayStat; down?: RelayStat; forwardedUp: number; forwardedDown: number };

  private constructor(private readonly maps: RelayMaps, guest: Leg, private readonly limit: number, private readonly ev: KernelRelayEvents) {
    // The WAN leg is filled in by spliceWan(); until then the guest's data is
    // passed (no target: peer 0 has no flow record) and waits on the guest leg.
    const none: Leg = { name: 'wan', fd: -1, cookie: 0n, baseInfo: 0 };
    this.legs = { guest, wan: none };
    const mk = (name: DirName, src: Leg, dst: Leg): Direction => ({
      name, src, dst, pending: [], pendingBytes: 0, writing: 0, read: 0, eof: false, finSent: false,
      ctl: { peer: dst.cookie, limit, baseAcked: 0, forwarded: 0 },
    });
    this.dirs = { up: mk('up', guest, none), down: mk('down', none, guest) };
  }

  /**
   * First half, at accept: puts the accepted guest socket (paused, never read)
   * into the relay maps while it is surely still open both ways, so that a
   * guest that sends its request and FIN at once can still be spliced. Until
   * the WAN leg is spliced too, everything the guest sends is passed and waits
   * on the guest leg. Returns the reason when the socket cannot be taken
   * (nothing is left in the maps then).
   */
  static spliceGuest(maps: RelayMaps, guestSock: net.Socket, limit: number, ev: KernelRelayEvents): KernelRelay | string {
    let fd = -1;
    let cookie = 0n;
    const inserted: Array<'targets' | 'sources'> = [];
    try {
      fd = libc.dup(fdOf(guestSock));
      cookie = libc.socketCookie(fd);
      if (!maps.flow(cookie)) throw new ServiceError('E_NOT_REGISTERED', 'the guest leg has no flow record (the listener is not registered with the datapath)');
      const guest: Leg = { name: 'guest', sock: guestSock, fd, cookie, baseInfo: libc.tcpInfo(fd).bytes_acked };
      const relay = new KernelRelay(maps, guest, limit, ev);
      // Spliced at establishment (xlnet_relay_splice) when it has statistics:
      // a socket that got its FIN since cannot be inserted again.
      const early = maps.relayStat(cookie) !== undefined;
      maps.relaySetCtl(cookie, relay.dirs.up.ctl);
      if (!early) for (const which of ['targets', 'sources'] as const) if (insertOnce(maps, which, cookie, fd)) inserted.push(which);
      // Data that arrived before the verdict was attached is looked at only
      // when someone reads: a peek makes the kernel run the verdict over it.
      libc.recv(fd, Buffer.alloc(1), libc.MSG_PEEK | libc.MSG_DONTWAIT);
      return relay;
    } catch (e) {
      if (cookie) unsplice(maps, cookie, inserted.reverse());
      if (fd >= 0) libc.close(fd);
      return `guest leg: ${reason(e)}`;
    }
  }

  /**
   * Second half, once the WAN leg is connected (its fd not yet wrapped by
   * Node: nothing read from it). True when both legs are spliced; otherwise
   * the reason, and the connection is relayed in user space with the guest
   * leg left in the maps, its data passed (finish() releases it).
   */
  spliceWan(wanFd: number): true | string {
    let fd = -1;
    let cookie = 0n;
    const inserted: Array<'targets' | 'sources'> = [];
    try {
      fd = libc.dup(wanFd);
      cookie = libc.socketCookie(fd);
      const wanFlow = this.maps.flow(cookie);
      const guestFlow = this.maps.flow(this.legs.guest.cookie);
      if (!wanFlow || !guestFlow) throw new ServiceError('E_NOT_REGISTERED', 'a leg has no flow record (not registered with the datapath)');
      const wan: Leg = { name: 'wan', fd, cookie, baseInfo: libc.tcpInfo(fd).bytes_acked };
      const down: RelayCtl = { peer: this.legs.guest.cookie, limit: this.limit, baseAcked: guestFlow.bytesAcked, forwarded: 0 };
      const early = this.maps.relayStat(cookie) !== undefined;
      this.maps.relaySetCtl(cookie, down);
      if (!early) for (const which of ['targets', 'sources'] as const) if (insertOnce(this.maps, which, cookie, fd)) inserted.push(which);
      // From here the guest's data can be redirected (after what was passed).
      const up = this.dirs.up;
      up.ctl = { peer: cookie, limit: this.limit, baseAcked: wanFlow.bytesAcked, forwarded: 0 };
      this.maps.relaySetCtl(this.legs.guest.cookie, up.ctl);
      this.legs.wan = wan;
      up.dst = wan;
      this.dirs.down = { ...this.dirs.down, src: wan, ctl: down };
      libc.recv(fd, Buffer.alloc(1), libc.MSG_PEEK | libc.MSG_DONTWAIT);
      return true;
    } catch (e) {
      if (cookie) unsplice(this.maps, cookie, inserted.reverse());
      if (fd >= 0) libc.close(fd);
      return `WAN leg: ${reason(e)}`;
    }
  }

  /** Hands the engine the WAN leg's Node socket (made after start) and lets passed data and events flow. */
  run(wanSock: net.Socket): void {
    this.running = true;
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
      d.read += chunk.length;
      d.pending.push(chunk);
      d.pendingBytes += chunk.length;
      if (d.pendingBytes >= PENDING_HIGH_WATER) src.pause();
      this.pump(d);
    });
    src.on('end', () => this.drainPassed(d, Date.now() + LATE_PASS_MS));
  }

  /**
   * The source reported its end of stream: reads, from xlnetd's own fd, the
   * passed bytes still on their way (see the header), then lets the FIN go.
   */
  private drainPassed(d: Direction, deadline: number): void {
    if (this.finished) return;
    const buf = Buffer.allocUnsafe(64 * 1024);
    for (;;) {
      let missing: number;
      try { missing = (this.maps.relayStat(d.src.cookie)?.passed ?? d.read) - d.read; } catch { missing = 0; }
      if (missing <= 0) break;
      let n: number;
      try { n = libc.recv(d.src.fd, buf, libc.MSG_DONTWAIT); } catch (e) { this.fail(d.src.name, (e as libc.SysError).code ?? 'EIO'); return; }
      if (n > 0) {
        const chunk = Buffer.from(buf.subarray(0, n));
        d.read += n;
        d.pending.push(chunk);
        d.pendingBytes += n;
        continue;
      }
      if (Date.now() > deadline) { this.fail(d.src.name, 'EIO'); return; }
      this.pump(d); // writes what was read meanwhile
      d.lateTimer = setTimeout(() => this.drainPassed(d, deadline), DRAIN_POLL_MS);
      return;
    }
    d.eof = true;
    this.pump(d);
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
    for (const d of Object.values(this.dirs)) {
      let st: RelayStat | undefined;
      try { st = this.maps.relayStat(d.src.cookie); } catch { st = undefined; }
      // The verdict dropped an skb it could not make safe (relay.bpf.c): reset, never deliver a hole.
      if (st && st.faults > 0) { this.fail(d.src.name, 'EIO'); return; }
    }
    for (const l of Object.values(this.legs)) {
      let state = 0;
      try { state = libc.tcpInfo(l.fd).state; } catch { continue; }
      if (state !== libc.TCP_CLOSE) continue;
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
    if (!this.running) return;
    const d = this.dirs.up;
    if (!d.eof) { d.eof = true; this.pump(d); }
  }

  /** Bytes relayed per direction: redirected in the kernel plus written by xlnetd. */
  bytes(): { up: number; down: number } {
    if (this.final) return this.final;
    if (!this.running) return { up: 0, down: 0 };
    const count = (d: Direction) => {
      let st: RelayStat | undefined;
      try { st = this.maps.relayStat(d.src.cookie); } catch { st = undefined; }
      return (st?.redirected ?? 0) + d.ctl.forwarded;
    };
    return { up: count(this.dirs.up), down: count(this.dirs.down) };
  }

  /** Bytes in both directions' redirect queues: kernel memory that no socket's accounting shows. */
  queued(): number {
    if (!this.running || this.finished) return 0;
    let n = 0;
    for (const d of Object.values(this.dirs)) { try { n += Math.max(0, this.redirectQueue(d)); } catch { /* closing */ } }
    return n;
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
    if (this.running) {
      const st = (d: DirName) => { try { return this.maps.relayStat(this.dirs[d].src.cookie); } catch { return undefined; } };
      this.summary = { up: st('up'), down: st('down'), forwardedUp: this.dirs.up.ctl.forwarded, forwardedDown: this.dirs.down.ctl.forwarded };
    }
    this.finished = true;
    clearInterval(this.healthTimer);
    for (const d of Object.values(this.dirs)) { clearTimeout(d.timer); clearTimeout(d.lateTimer); }
    for (const l of Object.values(this.legs)) {
      if (l.fd < 0) continue; // the WAN leg was never spliced
      if (reset) { try { libc.setResetOnClose(l.fd); } catch { /* already closed */ } }
      unsplice(this.maps, l.cookie);
      libc.close(l.fd);
    }
    if (!reset && this.running) this.ev.done();
  }
}

/**
 * Takes a socket out of the relay maps (`which` of them; both by default) and
 * drops its control block and statistics. Each step may find nothing (never
 * inserted, already removed, the datapath closed): that is fine.
 */
export function unsplice(maps: RelayMaps, cookie: bigint, which: ReadonlyArray<'sources' | 'targets'> = ['sources', 'targets']): void {
  for (const w of which) { try { maps.relayRemove(w, cookie); } catch { /* not in it, or closed */ } }
  try { maps.relayForget(cookie); } catch { /* closed */ }
}

/** Inserts unless the datapath spliced the socket at establishment already
 * (relay.bpf.c xlnet_relay_splice); true when this call inserted it. */
function insertOnce(maps: RelayMaps, which: 'targets' | 'sources', cookie: bigint, fd: number): boolean {
  try {
    maps.relayInsert(which, cookie, fd);
    return true;
  } catch (e) {
    // EEXIST: in the map; EBUSY (sources): the socket's verdict is attached already.
    const code = (e as libc.SysError).code;
    if (code === 'EEXIST' || (code === 'EBUSY' && which === 'sources')) return false;
    throw e;
  }
}

function reason(e: unknown): string {
  return (e as libc.SysError).code === 'EOPNOTSUPP'
    ? 'a leg is no longer open both ways (it got a FIN before the splice)'
    : (e as Error).message;
}
