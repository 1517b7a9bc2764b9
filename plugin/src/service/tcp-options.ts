// Per-leg TCP settings from a service profile, applied to a socket fd.
import * as libc from '../ffi/libc.js';
import type { Profile } from '../config/index.js';

export interface LegSettings {
  cc: string;
  sndbuf: number;
  rcvbuf: number;
  nodelay: boolean;
  notsentLowat: number;
  keepalive: boolean;
  keepaliveIdle: number;
  keepaliveInterval: number;
  keepaliveCount: number;
}

/**
 * `buffer` bounds what Dom0 holds per connection and direction. Most of it is
 * the sending leg's socket buffer (the WAN leg must keep a bandwidth-delay
 * product in flight); the receiving leg gets a quarter, which is plenty at
 * LAN round-trip times. Explicit guest_ and wan_ sizes override.
 */
export function legSettings(p: Profile, leg: 'guest' | 'wan'): LegSettings {
  const small = Math.max(64 * 1024, Math.floor(p.buffer / 4));
  return {
    cc: leg === 'guest' ? p.guest_cc : p.wan_cc,
    sndbuf: leg === 'guest' ? (p.guest_sndbuf || small) : (p.wan_sndbuf || p.buffer),
    rcvbuf: leg === 'guest' ? (p.guest_rcvbuf || small) : (p.wan_rcvbuf || p.buffer),
    nodelay: leg === 'guest' ? p.guest_nodelay : p.wan_nodelay,
    notsentLowat: leg === 'wan' ? p.wan_notsent_lowat : 0,
    keepalive: p.keepalive,
    keepaliveIdle: p.keepalive_idle,
    keepaliveInterval: p.keepalive_interval,
    keepaliveCount: p.keepalive_count,
  };
}

function setBuffer(fd: number, force: number, plain: number, bytes: number, what: string): void {
  const v = Math.min(bytes, 0x3fffffff);
  try {
    libc.setInt(fd, libc.SOL_SOCKET, force, v, `${what}FORCE`);
  } catch {
    libc.setInt(fd, libc.SOL_SOCKET, plain, v, what);
  }
}

/**
 * Applies the settings; a congestion control the kernel lacks is reported, not
 * fatal. `inherited`: what the socket already has. An accepted socket starts
 * with its listener's options (congestion control, buffer sizes, TCP_NODELAY,
 * keepalive and its timers: plugin/test/service/tcp-options.test.ts checks
 * that on the running kernel), so the guest leg sets only what its profile
 * does differently from the listener's: each setsockopt is an FFI call, and
 * those were most of xlnetd's cost per new connection.
 */
export function applyLeg(fd: number, s: LegSettings, inherited?: LegSettings): string[] {
  const warnings: string[] = [];
  const same = <K extends keyof LegSettings>(...keys: K[]) => inherited !== undefined && keys.every((k) => inherited[k] === s[k]);
  if (!same('cc')) {
    try {
      libc.setString(fd, libc.IPPROTO_TCP, libc.TCP_CONGESTION, s.cc, 'TCP_CONGESTION');
    } catch (e) {
      warnings.push(`congestion control '${s.cc}' unavailable (${(e as Error).message}); kernel default kept`);
    }
  }
  // 0 means "leave the kernel's autotuning alone".
  // The profile's sizes are the operator's choice: net.core.wmem_max/rmem_max
  // (4 MiB in a fresh namespace, below one BDP of a satellite or
  // transcontinental link) must not silently cap them, hence the FORCE
  // variants (xlnetd runs as root), with the capped ones as a fallback.
  if (s.sndbuf > 0 && !same('sndbuf')) setBuffer(fd, libc.SO_SNDBUFFORCE, libc.SO_SNDBUF, s.sndbuf, 'SO_SNDBUF');
  if (s.rcvbuf > 0 && !same('rcvbuf')) setBuffer(fd, libc.SO_RCVBUFFORCE, libc.SO_RCVBUF, s.rcvbuf, 'SO_RCVBUF');
  if (!same('nodelay')) libc.setInt(fd, libc.IPPROTO_TCP, libc.TCP_NODELAY, s.nodelay ? 1 : 0, 'TCP_NODELAY');
  if (s.notsentLowat > 0 && !same('notsentLowat')) libc.setInt(fd, libc.IPPROTO_TCP, libc.TCP_NOTSENT_LOWAT, s.notsentLowat, 'TCP_NOTSENT_LOWAT');
  if (s.keepalive && !same('keepalive', 'keepaliveIdle', 'keepaliveInterval', 'keepaliveCount')) {
    libc.setInt(fd, libc.SOL_SOCKET, libc.SO_KEEPALIVE, 1, 'SO_KEEPALIVE');
    libc.setInt(fd, libc.IPPROTO_TCP, libc.TCP_KEEPIDLE, s.keepaliveIdle, 'TCP_KEEPIDLE');
    libc.setInt(fd, libc.IPPROTO_TCP, libc.TCP_KEEPINTVL, s.keepaliveInterval, 'TCP_KEEPINTVL');
    libc.setInt(fd, libc.IPPROTO_TCP, libc.TCP_KEEPCNT, s.keepaliveCount, 'TCP_KEEPCNT');
  } else if (!s.keepalive && inherited?.keepalive) {
    libc.setInt(fd, libc.SOL_SOCKET, libc.SO_KEEPALIVE, 0, 'SO_KEEPALIVE');
  }
  return warnings;
}
