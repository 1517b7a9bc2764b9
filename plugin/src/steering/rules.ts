// The nftables rules of xlnet, as single-line commands for NftSession.
//
// Bridged vifs (Xen's vif-bridge): bridged frames never reach IP prerouting, so
// a bridge-family chain (priority -300) rewrites the destination MAC to the
// bridge's own and sets pkttype host (shared/docs/platform.md), for
//   - the guest's new connections (a SYN that passes the flow selector), whose
//     4-tuple is then remembered in the vif's flow set, and
//   - every later frame of a remembered flow, in both directions (the replies
//     of the remote to Dom0's spoofed WAN-leg socket arrive addressed to the
//     guest's MAC).
// Connections that existed before the attachment, or that found the vif's flow
// set full (max_flows), are not in the set and stay end to end.
// Routed vifs (vif-route): the same selection in the inet prerouting chain.
// Then, in inet prerouting, marked packets go to the transparent listener
// (TPROXY); replies to Dom0's transparent sockets are marked for local delivery
// through a policy route.
import { isIPv6 } from 'node:net';
import type { RouteScope } from './routes.js';
import { NEVER_SPLIT_V4, NEVER_SPLIT_V6 } from '../config/never-split.js';

export const TABLE = 'xlnet';
/** fwmark of diverted packets: upper 16 bits 0x584e ("XN"), lower 16 bits the attachment id. */
export const MARK_BASE = 0x584e0000;
export const MARK_MASK = 0xffff0000;
/** policy routing table that delivers marked packets locally */
export const ROUTE_TABLE = 0x584e;
export const RULE_PRIORITY = 9000;

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;

export interface SelectorSpec {
  excludePorts: Array<[number, number]>;
  excludeCidrs: string[];
}

export interface AttachmentSteering {
  id: number;
  vif: string;
  mode: 'bridge' | 'route';
  /** the bridge's own MAC (bridge mode) */
  bridgeMac?: string;
  maxFlows: number;
  /** seconds a remembered flow may stay idle before its set element expires */
  flowTimeoutSec: number;
  selector: SelectorSpec;
  /** destinations Dom0 reaches through the guest's own bridge (steering/routes.ts) */
  scope: RouteScope;
  /** false when Dom0 cannot serve IPv6 (no IPv6 on loopback): IPv6 SYNs are not diverted */
  ipv6?: boolean;
}

function elements(list: readonly string[]): string {
  return `{ ${list.join(', ')} }`;
}

/**
 * The tables, sets and chains that do not depend on any attachment. Safe to
 * run again over tables a previous xlnetd left (kept by the keeper across a
 * restart): objects are added if missing, the chains' rules are replaced, and
 * the attachments' flow sets (the established flows) are not touched.
 */
export function baseRules(listenPort: number, ipv6 = true): string[] {
  const t = TABLE;
  const m = hex(MARK_BASE), mask = hex(MARK_MASK);
  return [
    `add table bridge ${t} { flags owner; }`,
    `add set bridge ${t} nosplit4 { type ipv4_addr; flags interval; auto-merge; }`,
    `add set bridge ${t} nosplit6 { type ipv6_addr; flags interval; auto-merge; }`,
    `add element bridge ${t} nosplit4 ${elements(NEVER_SPLIT_V4)}`,
    `add element bridge ${t} nosplit6 ${elements(NEVER_SPLIT_V6)}`,
    `add map bridge ${t} vifs { type ifname : verdict; }`,
    `add chain bridge ${t} replies`,
    `add chain bridge ${t} pre { type filter hook prerouting priority -300; policy accept; }`,
    `flush chain bridge ${t} pre`,
    `add rule bridge ${t} pre iifname vmap @vifs`,
    `add rule bridge ${t} pre meta l4proto tcp jump replies`,

    `add table inet ${t} { flags owner; }`,
    `add set inet ${t} nosplit4 { type ipv4_addr; flags interval; auto-merge; }`,
    `add set inet ${t} nosplit6 { type ipv6_addr; flags interval; auto-merge; }`,
    `add element inet ${t} nosplit4 ${elements(NEVER_SPLIT_V4)}`,
    `add element inet ${t} nosplit6 ${elements(NEVER_SPLIT_V6)}`,
    `add map inet ${t} rvifs { type ifname : verdict; }`,
    `add chain inet ${t} pre { type filter hook prerouting priority mangle; policy accept; }`,
    `flush chain inet ${t} pre`,
    // Replies to Dom0's transparent WAN-leg sockets (routed vifs; bridged ones are marked in the bridge chain).
    `add rule inet ${t} pre meta l4proto tcp socket transparent 1 meta mark set ${m} accept`,
    `add rule inet ${t} pre iifname vmap @rvifs`,
    // Never divert towards Dom0's own addresses (defence in depth: the selectors already skip them).
    `add rule inet ${t} pre meta mark & ${mask} == ${m} meta mark & 0x0000ffff != 0 fib daddr type local meta mark set 0 accept`,
    `add rule inet ${t} pre meta mark & ${mask} == ${m} meta mark & 0x0000ffff != 0 meta nfproto ipv4 meta l4proto tcp tproxy ip to 127.0.0.1:${listenPort} accept`,
    ...(ipv6 ? [`add rule inet ${t} pre meta mark & ${mask} == ${m} meta mark & 0x0000ffff != 0 meta nfproto ipv6 meta l4proto tcp tproxy ip6 to [::1]:${listenPort} accept`] : []),
  ];
}

/** Dom0's own addresses join the never-split sets. */
export function localAddressRules(addrs: string[]): string[] {
  const v4 = addrs.filter((a) => !isIPv6(a));
  const v6 = addrs.filter((a) => isIPv6(a));
  const out: string[] = [];
  for (const fam of ['bridge', 'inet']) {
    if (v4.length) out.push(`add element ${fam} ${TABLE} nosplit4 ${elements(v4)}`);
    if (v6.length) out.push(`add element ${fam} ${TABLE} nosplit6 ${elements(v6)}`);
  }
  return out;
}

function portSet(ports: Array<[number, number]>): string {
  return elements(ports.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)));
}

/** Per-attachment objects and rules. Names carry the attachment id. Safe to
 * run again over a previous xlnetd's objects of the same id (see baseRules). */
export function attachmentRules(a: AttachmentSteering): string[] {
  const t = TABLE;
  const id = a.id;
  const fam = a.mode === 'bridge' ? 'bridge' : 'inet';
  const chain = `v${id}`;
  const f4 = `f4_${id}`, f6 = `f6_${id}`;
  const xp = `xp_${id}`, x4 = `x4_${id}`, x6 = `x6_${id}`;
  const v4cidrs = a.selector.excludeCidrs.filter((c) => !c.includes(':'));
  const v6cidrs = a.selector.excludeCidrs.filter((c) => c.includes(':'));
  const flowSet = (type: string) =>
    `{ type ${type} . inet_service . ${type} . inet_service; size ${a.maxFlows}; flags dynamic,timeout; timeout ${a.flowTimeoutSec}s; }`;
  const out = [
    `add set ${fam} ${t} ${f4} ${flowSet('ipv4_addr')}`,
    `add set ${fam} ${t} ${f6} ${flowSet('ipv6_addr')}`,
    `add set ${fam} ${t} ${xp} { type inet_service; flags interval; auto-merge; }`,
    `add set ${fam} ${t} ${x4} { type ipv4_addr; flags interval; auto-merge; }`,
    `add set ${fam} ${t} ${x6} { type ipv6_addr; flags interval; auto-merge; }`,
    `add set ${fam} ${t} a4_${id} { type ipv4_addr; flags interval; auto-merge; }`,
    `add set ${fam} ${t} a6_${id} { type ipv6_addr; flags interval; auto-merge; }`,
    `add set ${fam} ${t} r4_${id} { type ipv4_addr; flags interval; auto-merge; }`,
    `add set ${fam} ${t} r6_${id} { type ipv6_addr; flags interval; auto-merge; }`,
    // Over sets a previous xlnetd left, the selector and scope start afresh
    // (the flow sets, holding the established flows, are kept).
    ...[xp, x4, x6, `a4_${id}`, `a6_${id}`, `r4_${id}`, `r6_${id}`].map((n) => `flush set ${fam} ${t} ${n}`),
    ...scopeElements(fam, id, a.scope),
  ];
  if (a.selector.excludePorts.length) out.push(`add element ${fam} ${t} ${xp} ${portSet(a.selector.excludePorts)}`);
  if (v4cidrs.length) out.push(`add element ${fam} ${t} ${x4} ${elements(v4cidrs)}`);
  if (v6cidrs.length) out.push(`add element ${fam} ${t} ${x6} ${elements(v6cidrs)}`);
  out.push(...vifChainRules(a, true));
  if (a.mode === 'bridge') out.push(`add element bridge ${t} vifs { "${a.vif}" : jump ${chain} }`);
  else out.push(`add element inet ${t} rvifs { "${a.vif}" : jump ${chain} }`);
  return out;
}

/**
 * The bridge chain that diverts replies of split flows (they arrive addressed
 * to the guest's MAC from any bridge port), rebuilt as a whole whenever the
 * set of bridged attachments changes. Run it in the same batch as the change.
 */
export function replyChainRules(attachments: AttachmentSteering[]): string[] {
  const t = TABLE;
  const out = [`flush chain bridge ${t} replies`];
  for (const a of attachments) {
    if (a.mode !== 'bridge') continue;
    const divert = `ether daddr set ${a.bridgeMac} meta pkttype set host meta mark set ${hex(MARK_BASE)} accept`;
    out.push(
      `add rule bridge ${t} replies ip daddr . tcp dport . ip saddr . tcp sport @f4_${a.id} ${divert}`,
      `add rule bridge ${t} replies ip6 daddr . tcp dport . ip6 saddr . tcp sport @f6_${a.id} ${divert}`,
    );
  }
  return out;
}

function scopeElements(fam: string, id: number, sc: RouteScope): string[] {
  const out: string[] = [];
  const add = (set: string, list: string[]) => { if (list.length) out.push(`add element ${fam} ${TABLE} ${set}_${id} ${elements(list)}`); };
  add('a4', sc.allow4); add('a6', sc.allow6); add('r4', sc.deny4); add('r6', sc.deny6);
  return out;
}

/** Replaces the route scope of an attachment after Dom0's routes changed (new connections only). */
export function scopeRules(a: AttachmentSteering): string[] {
  const fam = a.mode === 'bridge' ? 'bridge' : 'inet';
  return [
    ...['a4', 'a6', 'r4', 'r6'].map((s) => `flush set ${fam} ${TABLE} ${s}_${a.id}`),
    ...scopeElements(fam, a.id, a.scope),
  ];
}

/** Replaces the selector's exclusions of an attachment (new connections only). */
export function selectorRules(a: AttachmentSteering): string[] {
  const fam = a.mode === 'bridge' ? 'bridge' : 'inet';
  const t = TABLE;
  const v4 = a.selector.excludeCidrs.filter((c) => !c.includes(':'));
  const v6 = a.selector.excludeCidrs.filter((c) => c.includes(':'));
  const out = [`flush set ${fam} ${t} xp_${a.id}`, `flush set ${fam} ${t} x4_${a.id}`, `flush set ${fam} ${t} x6_${a.id}`];
  if (a.selector.excludePorts.length) out.push(`add element ${fam} ${t} xp_${a.id} ${portSet(a.selector.excludePorts)}`);
  if (v4.length) out.push(`add element ${fam} ${t} x4_${a.id} ${elements(v4)}`);
  if (v6.length) out.push(`add element ${fam} ${t} x6_${a.id} ${elements(v6)}`);
  return out;
}

/**
 * The vif's chain, rebuilt whole (so it can run again over a chain a previous
 * xlnetd left). Frames of a flow already split refresh their set element and
 * are diverted, also while the vif drains (a busy drained flow must not lose
 * its diversion when the element's timeout passes); with `newFlows` a SYN
 * the selector lets through is remembered and diverted (when the set is full
 * the update fails and the connection stays direct).
 */
function vifChainRules(a: AttachmentSteering, newFlows: boolean): string[] {
  const t = TABLE;
  const id = a.id;
  const fam = a.mode === 'bridge' ? 'bridge' : 'inet';
  const chain = `v${id}`;
  const mark = hex(MARK_BASE | id);
  const divert = a.mode === 'bridge'
    ? `ether daddr set ${a.bridgeMac} meta pkttype set host meta mark set ${mark} accept`
    : `meta mark set ${mark}`;
  const tuple4 = 'ip saddr . tcp sport . ip daddr . tcp dport';
  const tuple6 = 'ip6 saddr . tcp sport . ip6 daddr . tcp dport';
  const syn = 'tcp flags syn / syn,ack';
  const out = [
    `add chain ${fam} ${t} ${chain}`,
    `flush chain ${fam} ${t} ${chain}`,
    `add rule ${fam} ${t} ${chain} meta l4proto tcp ${tuple4} @f4_${id} update @f4_${id} { ${tuple4} } ${divert}`,
    `add rule ${fam} ${t} ${chain} meta l4proto tcp ${tuple6} @f6_${id} update @f6_${id} { ${tuple6} } ${divert}`,
  ];
  if (!newFlows) return out;
  out.push(`add rule ${fam} ${t} ${chain} meta l4proto tcp ${syn} ip daddr != @nosplit4 ip daddr @a4_${id} ip daddr != @r4_${id} ip daddr != @x4_${id} tcp dport != @xp_${id} update @f4_${id} { ${tuple4} } ${divert}`);
  if (a.ipv6 !== false) {
    out.push(`add rule ${fam} ${t} ${chain} meta l4proto tcp ${syn} ip6 daddr != @nosplit6 ip6 daddr @a6_${id} ip6 daddr != @r6_${id} ip6 daddr != @x6_${id} tcp dport != @xp_${id} update @f6_${id} { ${tuple6} } ${divert}`);
  }
  return out;
}

/** Stops new connections of the vif from being split; flows already split keep their diversion. */
export function stopNewFlowsRules(a: AttachmentSteering): string[] {
  return vifChainRules(a, false);
}

/**
 * Every vif's new connections go direct at once, established flows keep
 * their diversion: what a stopping xlnetd does first, and what the keeper
 * runs if xlnetd dies (one atomic batch).
 */
export function newFlowsDirectRules(attachments: AttachmentSteering[]): string[] {
  return attachments.flatMap((a) => stopNewFlowsRules(a));
}

/** Element of the vif's flow set for one connection (guest side first). */
export function flowElement(a: { id: number; mode: 'bridge' | 'route' }, guestIp: string, guestPort: number, dstIp: string, dstPort: number): { fam: string; set: string; elem: string } {
  const fam = a.mode === 'bridge' ? 'bridge' : 'inet';
  const set = isIPv6(guestIp) ? `f6_${a.id}` : `f4_${a.id}`;
  return { fam, set, elem: `{ ${guestIp} . ${guestPort} . ${dstIp} . ${dstPort} }` };
}

export function forgetFlowRule(a: { id: number; mode: 'bridge' | 'route' }, guestIp: string, guestPort: number, dstIp: string, dstPort: number): string {
  const { fam, set, elem } = flowElement(a, guestIp, guestPort, dstIp, dstPort);
  return `delete element ${fam} ${TABLE} ${set} ${elem}`;
}

export function rememberFlowRule(a: { id: number; mode: 'bridge' | 'route' }, guestIp: string, guestPort: number, dstIp: string, dstPort: number): string {
  const { fam, set, elem } = flowElement(a, guestIp, guestPort, dstIp, dstPort);
  return `add element ${fam} ${TABLE} ${set} ${elem}`;
}

/** Removes every object of the attachment (flows already split lose their diversion). */
export function detachRules(a: AttachmentSteering): string[] {
  const t = TABLE;
  const id = a.id;
  const fam = a.mode === 'bridge' ? 'bridge' : 'inet';
  const out: string[] = [];
  if (a.mode === 'bridge') out.push(`delete element bridge ${t} vifs { "${a.vif}" }`);
  else out.push(`delete element inet ${t} rvifs { "${a.vif}" }`);
  out.push(`delete chain ${fam} ${t} v${id}`);
  for (const s of ['f4', 'f6', 'xp', 'x4', 'x6', 'a4', 'a6', 'r4', 'r6']) out.push(`delete set ${fam} ${t} ${s}_${id}`);
  return out;
}
