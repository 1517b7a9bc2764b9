// ffi/: the only place that calls native code. Here: the libc socket calls Node
// cannot make (IP_TRANSPARENT before bind, TCP_CONGESTION, TCP_INFO, ...).
// Every call returns or throws a SysError naming the call and errno; nothing
// else in the plugin imports ffi-rs.
import { open, define, DataType } from 'ffi-rs';
import { constants } from 'node:os';
import { isIPv6 } from 'node:net';

open({ library: 'libc', path: 'libc.so.6' });

const I32 = DataType.I32;
const BUF = DataType.U8Array;
const lib = define({
  socket: { library: 'libc', retType: I32, paramsType: [I32, I32, I32], errno: true },
  setsockopt: { library: 'libc', retType: I32, paramsType: [I32, I32, I32, BUF, I32], errno: true },
  getsockopt: { library: 'libc', retType: I32, paramsType: [I32, I32, I32, BUF, BUF], errno: true },
  bind: { library: 'libc', retType: I32, paramsType: [I32, BUF, I32], errno: true },
  connect: { library: 'libc', retType: I32, paramsType: [I32, BUF, I32], errno: true },
  listen: { library: 'libc', retType: I32, paramsType: [I32, I32], errno: true },
  close: { library: 'libc', retType: I32, paramsType: [I32], errno: true },
  getsockname: { library: 'libc', retType: I32, paramsType: [I32, BUF, BUF], errno: true },
  ioctl: { library: 'libc', retType: I32, paramsType: [I32, DataType.U64, BUF], errno: true },
  dup: { library: 'libc', retType: I32, paramsType: [I32], errno: true },
  fcntl: { library: 'libc', retType: I32, paramsType: [I32, I32, I32], errno: true },
  recv: { library: 'libc', retType: DataType.I64, paramsType: [I32, BUF, DataType.U64, I32], errno: true },
  shutdown: { library: 'libc', retType: I32, paramsType: [I32, I32], errno: true },
  send: { library: 'libc', retType: DataType.I64, paramsType: [I32, BUF, DataType.U64, I32], errno: true },
  write: { library: 'libc', retType: DataType.I64, paramsType: [I32, BUF, DataType.U64], errno: true },
  pipe2: { library: 'libc', retType: I32, paramsType: [BUF, I32], errno: true },
  // syscall(2) is variadic: called through a fixed signature (x86_64 passes both alike in registers).
  syscall: { library: 'libc', retType: DataType.I64, paramsType: [DataType.I64, I32, I32, I32], errno: true },
});

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([k, v]) => [v, k]));

/** The errno's name (ECONNRESET), or E<number> for one Node does not know. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `E${errno}`;
}

export class SysError extends Error {
  readonly code: string;
  constructor(readonly syscall: string, readonly errno: number, detail?: string) {
    const code = ERRNO_NAMES.get(errno) ?? `E${errno}`;
    super(`${syscall}${detail ? ` (${detail})` : ''}: ${code}`);
    this.code = code;
  }
}

// <sys/socket.h>, <netinet/in.h>, <netinet/tcp.h>, <linux/in6.h> values (x86_64 Linux).
export const AF_INET = 2, AF_INET6 = 10;
const SOCK_STREAM = 1, SOCK_NONBLOCK = 0o4000, SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1, IPPROTO_IP = 0, IPPROTO_IPV6 = 41, IPPROTO_TCP = 6;
export const SO_REUSEADDR = 2, SO_SNDBUF = 7, SO_RCVBUF = 8, SO_KEEPALIVE = 9, SO_MARK = 36, SO_ERROR = 4;
/** like SO_SNDBUF/SO_RCVBUF but not capped by net.core.wmem_max/rmem_max (CAP_NET_ADMIN) */
export const SO_SNDBUFFORCE = 32, SO_RCVBUFFORCE = 33;
export const IP_TRANSPARENT = 19, IPV6_TRANSPARENT = 75, IPV6_V6ONLY = 26;
export const TCP_NODELAY = 1, TCP_KEEPIDLE = 4, TCP_KEEPINTVL = 5, TCP_KEEPCNT = 6, TCP_INFO = 11;
export const TCP_CONGESTION = 13, TCP_USER_TIMEOUT = 18, TCP_NOTSENT_LOWAT = 25;
export const SO_LINGER = 13, SO_COOKIE = 57;
export const SHUT_RD = 0, SHUT_WR = 1, SHUT_RDWR = 2;
export const MSG_PEEK = 0x2, MSG_DONTWAIT = 0x40, MSG_TRUNC = 0x20, MSG_NOSIGNAL = 0x4000;
export const SO_PEERCRED = 17, SO_MEMINFO = 55;
const SYS_PIDFD_OPEN = 434, SYS_PIDFD_GETFD = 438; // x86_64 <asm/unistd_64.h>
const O_CLOEXEC = 0o2000000;
const F_DUPFD_CLOEXEC = 1030; // <linux/fcntl.h>: F_LINUX_SPECIFIC_BASE + 6
const SIOCINQ = 0x541b, SIOCOUTQ = 0x5411;
const EINPROGRESS = constants.errno.EINPROGRESS;

type Res = { value: number; errnoCode: number };

function check(name: string, r: Res, detail?: string): number {
  if (r.value < 0) throw new SysError(name, r.errnoCode, detail);
  return r.value;
}

function int32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
}

/** sockaddr_in / sockaddr_in6 for an address string and port. */
export function sockaddr(ip: string, port: number): Buffer {
  if (isIPv6(ip)) {
    const b = Buffer.alloc(28);
    b.writeUInt16LE(AF_INET6, 0);
    b.writeUInt16BE(port, 2);
    ipv6Bytes(ip).copy(b, 8);
    return b;
  }
  const b = Buffer.alloc(16);
  b.writeUInt16LE(AF_INET, 0);
  b.writeUInt16BE(port, 2);
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !(p >= 0 && p <= 255))) throw new Error(`not an IPv4 address: ${ip}`);
  parts.forEach((p, i) => { b[4 + i] = p; });
  return b;
}

export function ipv6Bytes(ip: string): Buffer {
  let addr = ip;
  const out = Buffer.alloc(16);
  // IPv4-mapped tail (::ffff:1.2.3.4)
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(addr);
  if (v4) {
    const p = v4[1]!.split('.').map(Number);
    addr = addr.slice(0, -v4[1]!.length) + `${((p[0]! << 8) | p[1]!).toString(16)}:${((p[2]! << 8) | p[3]!).toString(16)}`;
  }
  const [head, tail] = addr.includes('::') ? addr.split('::') as [string, string] : [addr, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) throw new Error(`not an IPv6 address: ${ip}`);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** A non-blocking, close-on-exec TCP socket. */
export function tcpSocket(family: 4 | 6): number {
  return check('socket', lib.socket([family === 6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0]) as Res);
}

export function setInt(fd: number, level: number, opt: number, value: number, what = `opt ${level}/${opt}`): void {
  check('setsockopt', lib.setsockopt([fd, level, opt, int32(value), 4]) as Res, what);
}

export function setString(fd: number, level: number, opt: number, value: string, what = `opt ${level}/${opt}`): void {
  const b = Buffer.from(`${value}\0`);
  check('setsockopt', lib.setsockopt([fd, level, opt, b, b.length - 1]) as Res, what);
}

export function getInt(fd: number, level: number, opt: number): number {
  const out = Buffer.alloc(4);
  const len = int32(4);
  check('getsockopt', lib.getsockopt([fd, level, opt, out, len]) as Res);
  return out.readInt32LE(0);
}

export function getString(fd: number, level: number, opt: number, max = 16): string {
  const out = Buffer.alloc(max);
  const len = int32(max);
  check('getsockopt', lib.getsockopt([fd, level, opt, out, len]) as Res);
  const n = len.readInt32LE(0);
  const s = out.subarray(0, n).toString();
  const nul = s.indexOf('\0');
  return nul >= 0 ? s.slice(0, nul) : s;
}

/** TCP states as tcp_info's tcpi_state reports them (include/net/tcp_states.h). */
export const TCP_ESTABLISHED = 1, TCP_SYN_SENT = 2, TCP_CLOSE = 7;

/** Parts of struct tcp_info (linux/tcp.h) the service reads. */
export interface TcpInfo {
  state: number; // TCP_ESTABLISHED, TCP_SYN_SENT, ... TCP_CLOSE
  rttUs: number;
  snd_cwnd: number;
  total_retrans: number;
  bytes_acked: number;
  bytes_received: number;
  notsent_bytes: number;
}

export function tcpInfo(fd: number): TcpInfo {
  const out = Buffer.alloc(232);
  const len = int32(232);
  check('getsockopt', lib.getsockopt([fd, IPPROTO_TCP, TCP_INFO, out, len]) as Res, 'TCP_INFO');
  return {
    state: out.readUInt8(0),
    rttUs: out.readUInt32LE(68),
    snd_cwnd: out.readUInt32LE(80),
    total_retrans: out.readUInt32LE(100),
    bytes_acked: Number(out.readBigUInt64LE(120)),
    bytes_received: Number(out.readBigUInt64LE(128)),
    notsent_bytes: out.readUInt32LE(144),
  };
}

export function bind(fd: number, ip: string, port: number): void {
  const sa = sockaddr(ip, port);
  check('bind', lib.bind([fd, sa, sa.length]) as Res, `${ip}:${port}`);
}

/** The local port a socket is bound to (getsockname). */
export function localPort(fd: number): number {
  const sa = Buffer.alloc(28);
  const len = int32(28);
  check('getsockname', lib.getsockname([fd, sa, len]) as Res);
  return sa.readUInt16BE(2);
}

export function listen(fd: number, backlog: number): void {
  check('listen', lib.listen([fd, backlog]) as Res);
}

/** Starts a non-blocking connect; resolves nothing, completion shows on the socket. */
export function connectStart(fd: number, ip: string, port: number): void {
  const sa = sockaddr(ip, port);
  const r = lib.connect([fd, sa, sa.length]) as Res;
  if (r.value < 0 && r.errnoCode !== EINPROGRESS) throw new SysError('connect', r.errnoCode, `${ip}:${port}`);
}

export function close(fd: number): void {
  lib.close([fd]);
}

/** Bytes in the socket's receive queue not yet read by us (SIOCINQ). */
export function inq(fd: number): number {
  const out = Buffer.alloc(4);
  check('ioctl', lib.ioctl([fd, SIOCINQ, out]) as Res, 'SIOCINQ');
  return out.readInt32LE(0);
}

/** Bytes in the socket's send queue not yet acknowledged by the peer (SIOCOUTQ). */
export function outq(fd: number): number {
  const out = Buffer.alloc(4);
  check('ioctl', lib.ioctl([fd, SIOCOUTQ, out]) as Res, 'SIOCOUTQ');
  return out.readInt32LE(0);
}

/** A second, close-on-exec fd for the same open socket: the caller owns it
 * (Node closes the fd it wraps by itself; a dup keeps the socket alive). */
export function dup(fd: number): number {
  return check('fcntl', lib.fcntl([fd, F_DUPFD_CLOEXEC, 0]) as Res, 'F_DUPFD_CLOEXEC');
}

/** recv(2) into buf: bytes read, 0 at end of stream, -1 when nothing is
 * ready (EAGAIN); other errors throw. */
export function recv(fd: number, buf: Buffer, flags: number): number {
  const r = lib.recv([fd, buf, buf.length, flags]) as Res;
  if (r.value < 0 && r.errnoCode === constants.errno.EAGAIN) return -1;
  return check('recv', r);
}

export function shutdown(fd: number, how: number): void {
  check('shutdown', lib.shutdown([fd, how]) as Res);
}

/** The kernel's socket cookie (SO_COOKIE): unique while the machine runs. */
export function socketCookie(fd: number): bigint {
  const out = Buffer.alloc(8);
  const len = int32(8);
  check('getsockopt', lib.getsockopt([fd, SOL_SOCKET, SO_COOKIE, out, len]) as Res, 'SO_COOKIE');
  return out.readBigUInt64LE(0);
}

/** SO_LINGER {on, 0 s}: the socket's last close sends a reset instead of a FIN. */
export function setResetOnClose(fd: number): void {
  const b = Buffer.alloc(8); // struct linger { int l_onoff; int l_linger; }
  b.writeInt32LE(1, 0);
  check('setsockopt', lib.setsockopt([fd, SOL_SOCKET, SO_LINGER, b, 8]) as Res, 'SO_LINGER');
}

/** send(2), non-blocking and without SIGPIPE: bytes the socket took, -1 when it
 * took none (EAGAIN); other errors throw. */
export function send(fd: number, buf: Buffer, length = buf.length): number {
  const r = lib.send([fd, buf, length, MSG_DONTWAIT | MSG_NOSIGNAL]) as Res;
  if (r.value < 0 && r.errnoCode === constants.errno.EAGAIN) return -1;
  return check('send', r);
}

/** write(2) of the whole buffer to a pipe or file (small writes: atomic on a pipe). */
export function write(fd: number, buf: Buffer): number {
  return check('write', lib.write([fd, buf, buf.length]) as Res);
}

/** A close-on-exec pipe: [read end, write end]. */
export function pipe(): [number, number] {
  const b = Buffer.alloc(8);
  check('pipe2', lib.pipe2([b, O_CLOEXEC]) as Res);
  return [b.readInt32LE(0), b.readInt32LE(4)];
}

/** A pidfd for a process (pidfd_open(2)): names it even after its pid is reused. */
export function pidfdOpen(pid: number): number {
  return check('pidfd_open', lib.syscall([SYS_PIDFD_OPEN, pid, 0, 0]) as Res, `pid ${pid}`);
}

/** A close-on-exec copy, in this process, of another process's fd (pidfd_getfd(2);
 * needs ptrace rights over it: root over root). The copy shares the open file. */
export function pidfdGetfd(pidfd: number, fd: number): number {
  return check('pidfd_getfd', lib.syscall([SYS_PIDFD_GETFD, pidfd, fd, 0]) as Res, `fd ${fd}`);
}

/** The pid of the process at the other end of a unix socket (SO_PEERCRED). */
export function peerPid(fd: number): number {
  const out = Buffer.alloc(12); // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
  const len = int32(12);
  check('getsockopt', lib.getsockopt([fd, SOL_SOCKET, SO_PEERCRED, out, len]) as Res, 'SO_PEERCRED');
  return out.readInt32LE(0);
}

/** Throws away the next n bytes of a socket's receive queue (MSG_TRUNC: no copy). */
export function discard(fd: number, n: number): number {
  const r = lib.recv([fd, Buffer.alloc(1), n, MSG_TRUNC | MSG_DONTWAIT]) as Res;
  if (r.value < 0 && r.errnoCode === constants.errno.EAGAIN) return 0;
  return check('recv', r, 'MSG_TRUNC');
}

/** The socket's memory (SO_MEMINFO, <linux/sock_diag.h> SK_MEMINFO_*): what its
 * send queue holds against its send buffer, both in the kernel's truesize. */
export function sendSpace(fd: number): { sndbuf: number; wmemQueued: number } {
  const out = Buffer.alloc(9 * 4);
  const len = int32(out.length);
  check('getsockopt', lib.getsockopt([fd, SOL_SOCKET, SO_MEMINFO, out, len]) as Res, 'SO_MEMINFO');
  return { sndbuf: out.readUInt32LE(4 * 3), wmemQueued: out.readUInt32LE(4 * 5) };
}
