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
}

function elements(list: readonly string[]): string {
  return `{ ${list.join(', ')} }`;
}

/** The tables, sets and chains that do not depend on any attachment. */
export function baseRules(listenPort: number): string[] {
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
    `add rule bridge ${t} pre iifname vmap @vifs`,
    `add rule bridge ${t} pre meta l4proto tcp jump replies`,

    `add table inet ${t} { flags owner; }`,
    `add set inet ${t} nosplit4 { type ipv4_addr; flags interval; auto-merge; }`,
    `add set inet ${t} nosplit6 { type ipv6_addr; flags interval; auto-merge; }`,
    `add element inet ${t} nosplit4 ${elements(NEVER_SPLIT_V4)}`,
    `add element inet ${t} nosplit6 ${elements(NEVER_SPLIT_V6)}`,
    `add map inet ${t} rvifs { type ifname : verdict; }`,
    `add chain inet ${t} pre { type filter hook prerouting priority mangle; policy accept; }`,
    // Replies to Dom0's transparent WAN-leg sockets (routed vifs; bridged ones are marked in the bridge chain).
    `add rule inet ${t} pre meta l4proto tcp socket transparent 1 meta mark set ${m} accept`,
    `add rule inet ${t} pre iifname vmap @rvifs`,
    // Never divert towards Dom0's own addresses (defence in depth: the selectors already skip them).
    `add rule inet ${t} pre meta mark & ${mask} == ${m} meta mark & 0x0000ffff != 0 fib daddr type local meta mark set 0 accept`,
    `add rule inet ${t} pre meta mark & ${mask} == ${m} meta mark & 0x0000ffff != 0 meta nfproto ipv4 meta l4proto tcp tproxy ip to 127.0.0.1:${listenPort} accept`,
    `add rule inet ${t} pre meta mark & ${mask} == ${m} meta mark & 0x0000ffff != 0 meta nfproto ipv6 meta l4proto tcp tproxy ip6 to [::1]:${listenPort} accept`,
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

/** Per-attachment objects and rules. Names carry the attachment id. */
export function attachmentRules(a: AttachmentSteering): string[] {
  const t = TABLE;
  const id = a.id;
  const mark = hex(MARK_BASE | id);
  const fam = a.mode === 'bridge' ? 'bridge' : 'inet';
  const chain = `v${id}`;
  const f4 = `f4_${id}`, f6 = `f6_${id}`;
  const xp = `xp_${id}`, x4 = `x4_${id}`, x6 = `x6_${id}`;
  const v4cidrs = a.selector.excludeCidrs.filter((c) => !c.includes(':'));
  const v6cidrs = a.selector.excludeCidrs.filter((c) => c.includes(':'));
  const flowSet = (type: string) =>
    `{ type ${type} . inet_service . ${type} . inet_service; size ${a.maxFlows}; flags dynamic,timeout; timeout ${a.flowTimeoutSec}s; }`;
  const divert = a.mode === 'bridge'
    ? `ether daddr set ${a.bridgeMac} meta pkttype set host meta mark set ${mark} accept`
    : `meta mark set ${mark}`;
  const divertReply = `ether daddr set ${a.bridgeMac} meta pkttype set host meta mark set ${hex(MARK_BASE)} accept`;
  const tuple4 = 'ip saddr . tcp sport . ip daddr . tcp dport';
  const tuple6 = 'ip6 saddr . tcp sport . ip6 daddr . tcp dport';
  const rev4 = 'ip daddr . tcp dport . ip saddr . tcp sport';
  const rev6 = 'ip6 daddr . tcp dport . ip6 saddr . tcp sport';
  const syn = 'tcp flags syn / syn,ack';
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
    ...scopeElements(fam, id, a.scope),
  ];
  if (a.selector.excludePorts.length) out.push(`add element ${fam} ${t} ${xp} ${portSet(a.selector.excludePorts)}`);
  if (v4cidrs.length) out.push(`add element ${fam} ${t} ${x4} ${elements(v4cidrs)}`);
  if (v6cidrs.length) out.push(`add element ${fam} ${t} ${x6} ${elements(v6cidrs)}`);
  out.push(
    `add chain ${fam} ${t} ${chain}`,
    // Frames of a flow already split: keep the element fresh and divert.
    `add rule ${fam} ${t} ${chain} meta l4proto tcp ${tuple4} @${f4} update @${f4} { ${tuple4} } ${divert}`,
    `add rule ${fam} ${t} ${chain} meta l4proto tcp ${tuple6} @${f6} update @${f6} { ${tuple6} } ${divert}`,
    // A new connection that the selector lets through: remember it (fails when the set is full: then it stays direct).
    `add rule ${fam} ${t} ${chain} meta l4proto tcp ${syn} ip daddr != @nosplit4 ip daddr @a4_${id} ip daddr != @r4_${id} ip daddr != @${x4} tcp dport != @${xp} update @${f4} { ${tuple4} } ${divert}`,
    `add rule ${fam} ${t} ${chain} meta l4proto tcp ${syn} ip6 daddr != @nosplit6 ip6 daddr @a6_${id} ip6 daddr != @r6_${id} ip6 daddr != @${x6} tcp dport != @${xp} update @${f6} { ${tuple6} } ${divert}`,
  );
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

/** Stops new connections of the vif from being split; flows already split keep their diversion. */
export function stopNewFlowsRules(a: AttachmentSteering): string[] {
  const fam = a.mode === 'bridge' ? 'bridge' : 'inet';
  // The SYN rules are the 3rd and 4th rule of the chain; flushing and re-adding
  // only the established-flow rules is simpler than tracking rule handles.
  const mark = hex(MARK_BASE | a.id);
  const divert = a.mode === 'bridge'
    ? `ether daddr set ${a.bridgeMac} meta pkttype set host meta mark set ${mark} accept`
    : `meta mark set ${mark}`;
  const tuple4 = 'ip saddr . tcp sport . ip daddr . tcp dport';
  const tuple6 = 'ip6 saddr . tcp sport . ip6 daddr . tcp dport';
  return [
    `flush chain ${fam} ${TABLE} v${a.id}`,
    `add rule ${fam} ${TABLE} v${a.id} meta l4proto tcp ${tuple4} @f4_${a.id} ${divert}`,
    `add rule ${fam} ${TABLE} v${a.id} meta l4proto tcp ${tuple6} @f6_${a.id} ${divert}`,
  ];
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
