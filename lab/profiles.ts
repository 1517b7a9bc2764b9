// Link and guest profiles of the benchmark scenarios (shared/docs/benchmarks.md).
// Link profiles describe the WAN emulator between the gateway and the remote
// host; "up" is guest -> remote, "down" is remote -> guest.

export interface LinkDirection {
  /** bit/s; 0 = unshaped */
  rateBps: number;
  /** one-way delay in ms */
  delayMs: number;
  /** uniform loss, 0..1 */
  loss: number;
}

export interface LinkProfile {
  name: string;
  up: LinkDirection;
  down: LinkDirection;
  /** true when no emulator is used at all (a plain kernel bridge): the lan profile */
  unshaped: boolean;
}

const M = 1_000_000;
function link(name: string, downMbit: number, upMbit: number, rttMs: number, loss = 0): LinkProfile {
  return {
    name,
    up: { rateBps: upMbit * M, delayMs: rttMs / 2, loss },
    down: { rateBps: downMbit * M, delayMs: rttMs / 2, loss },
    unshaped: false,
  };
}

export const LINK_PROFILES: Record<string, LinkProfile> = {
  geo: link('geo', 50, 10, 650),
  'geo-small': link('geo-small', 10, 2, 650),
  'geo-lossy': link('geo-lossy', 250, 3, 650, 0.01),
  wan: link('wan', 1000, 1000, 150),
  'wan-lossy': link('wan-lossy', 100, 100, 200, 0.005),
  lan: { name: 'lan', up: { rateBps: 0, delayMs: 0, loss: 0 }, down: { rateBps: 0, delayMs: 0, loss: 0 }, unshaped: true },
};

export function linkProfile(name: string): LinkProfile {
  const p = LINK_PROFILES[name];
  if (!p) throw new Error(`unknown link profile '${name}' (known: ${Object.keys(LINK_PROFILES).join(', ')})`);
  return p;
}

/** The queue is one bandwidth-delay product of the direction (benchmarks.md). */
export function queueBytes(d: LinkDirection): number {
  const bdp = Math.ceil((d.rateBps / 8) * (2 * d.delayMs / 1000));
  return Math.max(bdp, 64 * 1024);
}

/** wanem's per-direction argument (lab/wanem/README.md). */
export function wanemSpec(d: LinkDirection): string {
  const parts: string[] = [];
  if (d.rateBps > 0) parts.push(`rate=${Math.round(d.rateBps / 1000)}kbit`);
  if (d.delayMs > 0) parts.push(`delay=${d.delayMs}ms`);
  if (d.rateBps > 0) parts.push(`queue=${queueBytes(d)}`);
  if (d.loss > 0) parts.push(`loss=${+(d.loss * 100).toFixed(4)}%`);
  return parts.join(',');
}

/**
 * Guest TCP profiles: the guest's own stack, which the product may not change.
 * Sysctls are per network namespace; congestion control is set per socket by
 * the transfer tool (a child namespace may refuse cubic as its default).
 */
export interface GuestProfile {
  name: 'modern' | 'legacy';
  cc: string;
  sysctls: Record<string, string>;
}

export const GUEST_PROFILES: Record<'modern' | 'legacy', GuestProfile> = {
  modern: {
    name: 'modern',
    cc: 'cubic',
    sysctls: {
      'net.ipv4.tcp_window_scaling': '1',
      'net.ipv4.tcp_sack': '1',
      'net.ipv4.tcp_rmem': '4096 131072 6291456',
      'net.ipv4.tcp_wmem': '4096 16384 4194304',
    },
  },
  legacy: {
    name: 'legacy',
    cc: 'reno',
    sysctls: {
      // An old OS: no window scaling (so at most a 64 KiB window), no SACK.
      'net.ipv4.tcp_window_scaling': '0',
      'net.ipv4.tcp_sack': '0',
      'net.ipv4.tcp_rmem': '4096 65535 65535',
      'net.ipv4.tcp_wmem': '4096 16384 65535',
    },
  },
};

/** The remote host: a stock Linux server, cubic, default buffers set explicitly. */
export const REMOTE_SYSCTLS: Record<string, string> = GUEST_PROFILES.modern.sysctls;
export const REMOTE_CC = 'cubic';
