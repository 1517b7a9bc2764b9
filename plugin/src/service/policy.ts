// The flow selector's last word, at accept time: a connection that reached the
// listener is split only if its destination is one the guest could reach
// without the service. Dom0's own addresses, loopback, link-local, multicast
// and unspecified addresses are refused (the nft selector already skips them;
// this is the defence in depth behind it), and so are the vif's exclusions.
import { isIPv4, isIPv6 } from 'node:net';
import { networkInterfaces } from 'node:os';
import { ipv6Bytes } from '../ffi/libc.js';
import { NEVER_SPLIT_V4, NEVER_SPLIT_V6 } from '../config/never-split.js';

/** Any CIDR with an address and a prefix (config's Cidr fits). */
export interface Cidr { address: string; prefix: number }

function v4num(ip: string): number {
  return ip.split('.').reduce((n, p) => (n * 256) + Number(p), 0);
}

/** Strips an IPv4-mapped IPv6 form (::ffff:a.b.c.d), as Node reports dual-stack peers. */
export function plainIp(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m ? m[1]! : ip;
}

export function inCidr(ip: string, c: Cidr): boolean {
  const a = plainIp(ip);
  if (isIPv4(a) && isIPv4(c.address)) {
    if (c.prefix === 0) return true;
    const mask = c.prefix === 32 ? 0xffffffff : (~((1 << (32 - c.prefix)) - 1)) >>> 0;
    return ((v4num(a) & mask) >>> 0) === ((v4num(c.address) & mask) >>> 0);
  }
  if (isIPv6(a) && isIPv6(c.address)) {
    const x = ipv6Bytes(a), y = ipv6Bytes(c.address);
    let bits = c.prefix;
    for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
      const m = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
      if ((x[i]! & m) !== (y[i]! & m)) return false;
    }
    return true;
  }
  return false;
}

const NEVER: Cidr[] = [...NEVER_SPLIT_V4, ...NEVER_SPLIT_V6].map((c) => {
  const [address, prefix] = c.split('/');
  return { address: address!, prefix: Number(prefix) };
});

/** Dom0's own addresses in this network namespace. */
export function localAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) out.push(a.address.replace(/%.*$/, ''));
  }
  return out;
}

export type Verdict = { split: true } | { split: false; reason: string };

export function judgeDestination(dstIp: string, dstPort: number, local: Set<string>,
  excludePorts: Array<{ from: number; to: number }>, excludeCidrs: Cidr[]): Verdict {
  const ip = plainIp(dstIp);
  if (local.has(ip)) return { split: false, reason: `${ip} is Dom0's own address` };
  for (const c of NEVER) if (inCidr(ip, c)) return { split: false, reason: `${ip} is in ${c.address}/${c.prefix} (never split)` };
  for (const p of excludePorts) if (dstPort >= p.from && dstPort <= p.to) return { split: false, reason: `port ${dstPort} is excluded` };
  for (const c of excludeCidrs) if (inCidr(ip, c)) return { split: false, reason: `${ip} is in excluded ${c.address}/${c.prefix}` };
  return { split: true };
}
