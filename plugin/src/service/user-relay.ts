// UserRelay: the user-space relay engine for one split connection, built so
// that what Dom0 acknowledged stays in the kernel. It reads from a leg only as
// much as the other leg's send buffer can take at once, and writes it there
// in the same turn: the bytes leave the source socket's receive queue and
// enter the destination's send queue with no wait in between, so xlnetd's own
// memory holds next to nothing. A
// restart or a crash of xlnetd then finds every acknowledged byte in one of
// the two sockets, which the keeper holds (keeper/), and the next xlnetd goes
// on from there (stream-position.ts). A crash between the read and the write
// of one chunk (microseconds) still loses that chunk: the next xlnetd sees
// the hole and resets the connection rather than corrupt it.
//
// How much a send buffer takes: the kernel accepts a write while the socket's
// queued memory (SO_MEMINFO wmem_queued, in truesize) is under its send
// buffer, and, with TCP_NOTSENT_LOWAT, while its unsent bytes are under the
// low-water mark. The read size keeps a margin for the skb overhead, so the
// write is taken whole unless Dom0's TCP memory is under pressure (then Node
// buffers the rest until the socket drains). A direction whose destination is
// full stops reading (the source's window closes: backpressure) and looks
// again on a timer (Node reports no send-buffer space of a socket it has
// nothing queued for) that starts at 5 ms and backs off to 200 ms.
import net from 'node:net';
import * as libc from '../ffi/libc.js';

export type Dir = 'up' | 'down';
export type LegName = 'guest' | 'wan';

/** Largest single read. */
const MAX_READ = 256 * 1024;
/** A direction reads again once its destination can take this much. */
const LOW_ROOM = 16 * 1024;
const POLL_MIN_MS = 5, POLL_MAX_MS = 200;

export interface UserRelayEvents {
  /** n bytes moved in a direction */
  moved(dir: Dir, n: number): void;
  /** the source's end of stream was passed on (FIN after the last byte) */
  ended(dir: Dir): void;
  error(leg: LegName, e: NodeJS.ErrnoException): void;
  /** a leg's socket closed */
  close(): void;
}

interface Direction {
  name: Dir;
  src: net.Socket;
  dst: net.Socket;
  dstFd: number;
  /** TCP_NOTSENT_LOWAT of the destination, 0 when unset */
  lowat: number;
  timer?: NodeJS.Timeout;
}

export class UserRelay {
  readonly guest: net.Socket;
  readonly wan: net.Socket;
  private dirs!: Record<Dir, Direction>;
  private quiet = false;

  /** Takes ownership of both fds (Node closes them). `wanLowat`: the WAN leg's TCP_NOTSENT_LOWAT. */
  constructor(guestFd: number, wanFd: number, wanLowat: number, private readonly ev: UserRelayEvents) {
    const mk = (fd: number, dir: Dir) => new net.Socket({
      fd, readable: true, writable: true, allowHalfOpen: true,
      // The first buffer is asked for while the socket is made (before dirs exists): reading starts only later.
      onread: { buffer: () => (this.dirs ? this.readBuffer(this.dirs[dir]) : Buffer.allocUnsafe(LOW_ROOM)), callback: (n: number, buf: Buffer) => this.onRead(this.dirs[dir], n, buf) },
    } as net.SocketConstructorOpts);
    this.guest = mk(guestFd, 'up');
    this.wan = mk(wanFd, 'down');
    this.guest.pause();
    this.wan.pause();
    this.dirs = {
      up: { name: 'up', src: this.guest, dst: this.wan, dstFd: wanFd, lowat: wanLowat },
      down: { name: 'down', src: this.wan, dst: this.guest, dstFd: guestFd, lowat: 0 },
    };
    for (const [leg, s] of [['guest', this.guest], ['wan', this.wan]] as const) {
      s.on('error', (e: NodeJS.ErrnoException) => this.ev.error(leg, e));
      s.on('close', () => this.ev.close());
    }
    for (const d of Object.values(this.dirs)) {
      d.src.on('end', () => {
        this.ev.ended(d.name);
        if (!d.dst.destroyed) d.dst.end();
      });
    }
  }

  start(): void {
    this.guest.resume();
    this.wan.resume();
  }

  /** What the destination's send buffer takes now without blocking. */
  private room(d: Direction): number {
    try {
      const { sndbuf, wmemQueued } = libc.sendSpace(d.dstFd);
      let free = sndbuf - wmemQueued;
      free -= (free >> 4) + 4096; // skb overhead
      if (d.lowat > 0) free = Math.min(free, d.lowat - libc.tcpInfo(d.dstFd).notsent_bytes);
      return free;
    } catch {
      return LOW_ROOM; // the leg is closing: its error or close event ends the flow
    }
  }

  /** The next read's buffer: never more than the destination takes (reading resumes only at LOW_ROOM). */
  private readBuffer(d: Direction): Buffer {
    return Buffer.allocUnsafe(Math.min(MAX_READ, Math.max(LOW_ROOM, this.room(d))));
  }

  private onRead(d: Direction, n: number, buf: Buffer): boolean {
    if (n <= 0) return true;
    this.ev.moved(d.name, n);
    if (d.dst.destroyed) return false;
    d.dst.write(n === buf.length ? buf : buf.subarray(0, n));
    return this.mayRead(d);
  }

  /** True to keep reading; false stops the source until the destination has room. */
  private mayRead(d: Direction): boolean {
    if (this.quiet) return false;
    if (this.hasRoom(d)) return true;
    this.wake(d, POLL_MIN_MS, true);
    return false;
  }

  /** Nothing of ours waits in Node's buffer and the kernel takes a read's worth. */
  private hasRoom(d: Direction): boolean {
    return d.dst.writableLength === 0 && this.room(d) >= LOW_ROOM;
  }

  private wake(d: Direction, ms: number, later = false): void {
    clearTimeout(d.timer);
    if (this.quiet || d.src.destroyed || d.dst.destroyed) return;
    if (!later && this.hasRoom(d)) { d.src.resume(); return; }
    d.timer = setTimeout(() => this.wake(d, Math.min(ms * 2, POLL_MAX_MS)), ms);
    d.timer.unref();
  }

  /**
   * Stops reading and waits (at most `ms`) until everything read is in the
   * sockets: then the kernel holds the whole connection. Returns the bytes
   * still in xlnetd's memory (0 unless a destination refused a write).
   */
  async quiesce(ms: number): Promise<number> {
    this.quiet = true;
    for (const d of Object.values(this.dirs)) { clearTimeout(d.timer); d.src.pause(); }
    const left = () => this.guest.writableLength + this.wan.writableLength;
    const deadline = Date.now() + ms;
    while (left() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return left();
  }

  /** Whether both legs are closed. */
  get closed(): boolean { return this.guest.destroyed && this.wan.destroyed; }

  /** Ends both legs: with `reset` a RST (once the keeper let go of its copies too). */
  destroy(reset: boolean): void {
    for (const d of Object.values(this.dirs)) clearTimeout(d.timer);
    for (const s of [this.guest, this.wan]) {
      if (s.destroyed) continue;
      if (reset) s.resetAndDestroy(); else s.destroy();
    }
  }
}
