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
// (TPROXY); replies of split flows (marked in the bridge chain, or by the
// routed vif's reply chain) are delivered locally, to the WAN-leg socket,
// through a policy route.
//
// Isolation: a guest's rules only ever divert that guest's own traffic.
// Guests forge source addresses at will (Xen filters none on a bridged vif;
// vif-route's `ip=` rules sit in FORWARD, which split flows never pass), so
// a remembered tuple proves nothing about its owner. Three facts do:
//   - ingress: a vif's flow set diverts only frames that entered on that vif
//     (its chain is reached by `iifname`), so a forged tuple in A's set
//     touches only A's own frames;
//   - Dom0's own view of where an address lives, asked at the SYN: a routed
//     guest's SYN is split only when Dom0 routes its source back through the
//     same vif (`fib saddr . iif`: strict reverse path, i.e. the host routes
//     vif-route installs for `ip=`); a bridged guest's SYN is answered by
//     Dom0, and that SYN-ACK (it carries the SYN's mark, hence the
//     attachment) may leave only through the vif the SYN came in on, towards
//     a MAC that vif's SYNs came from: Dom0's neighbour table and the bridge's
//     forwarding table decide, per connection, so DHCP renewals, IPv6 privacy
//     addresses and guests with several addresses need no configuration, and
//     a forged source gets no SYN-ACK (dropped), so no accepted connection
//     and no WAN leg bound to an address that is not the guest's;
//   - replies are diverted only towards the owner: a bridged reply only when
//     addressed to one of the MACs the vif's SYNs and flows come from (set
//     m_<id>), a routed reply only when Dom0 routes its destination to the
//     vif whose set holds the tuple (`fib daddr oifname`).
// Why not the alternatives: learning owned addresses (neighbour table, fdb,
// DHCP snooping) into per-vif sets ahead of time leaves a guest's first
// connections from a new address unsplit or races the learning, and DHCP
// snooping does not see static or SLAAC addresses; xenstore's `ip` key is
// optional, IPv4-only in vif-route and usually absent on bridged vifs;
// remembering a tuple only once xlnetd has accepted the connection costs a
// netlink round trip per connection and still needs the SYN diverted first.
// The checks above are in the kernel, per connection, with no state beyond
// the flow sets. What they cannot stop is a guest that takes another's
// identity at layer 2 (sending frames with the other's MAC, or forged ARP/NA
// that Dom0 believes): a plain bridge already hands that guest the other's
// traffic without xlnet. Xen does not pin MACs or addresses on bridged vifs;
// hosts that need that pin them in the bridge (ebtables/nft), which xlnet's
// rules then build on.
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
  /** the bridge the vif is enslaved to, and its own MAC (bridge mode) */
  bridge?: string;
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

/** The guest's side first (as remembered), and the same tuple read from a reply. */
const TUPLE = { 4: 'ip saddr . tcp sport . ip daddr . tcp dport', 6: 'ip6 saddr . tcp sport . ip6 daddr . tcp dport' } as const;
const REPLY = { 4: 'ip daddr . tcp dport . ip saddr . tcp sport', 6: 'ip6 daddr . tcp dport . ip6 saddr . tcp sport' } as const;
const SYN = 'tcp flags syn / syn,ack';
/** Dom0's SYN-ACK to a SYN that a vif's rules diverted: it carries the SYN's mark (tcp_make_synack sets ir_mark). */
const GUEST_LEG_SYNACK = `meta l4proto tcp tcp flags & (syn|ack) == syn|ack meta mark & ${hex(MARK_MASK)} == ${hex(MARK_BASE)} meta mark & 0x0000ffff != 0`;

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
    `add map bridge ${t} legs { type mark : verdict; }`,
    `add chain bridge ${t} replies`,
    `add chain bridge ${t} pre { type filter hook prerouting priority -300; policy accept; }`,
    `flush chain bridge ${t} pre`,
    `add rule bridge ${t} pre iifname vmap @vifs`,
    `add rule bridge ${t} pre meta l4proto tcp jump replies`,
    // A guest leg's SYN-ACK leaves only through its own vif, towards a MAC of that vif (attachment chains o<id>).
    `add chain bridge ${t} synacks`,
    `flush chain bridge ${t} synacks`,
    `add rule bridge ${t} synacks meta mark vmap @legs`,
    `add rule bridge ${t} synacks drop`,
    `add chain bridge ${t} out { type filter hook output priority 0; policy accept; }`,
    `flush chain bridge ${t} out`,
    `add rule bridge ${t} out ${GUEST_LEG_SYNACK} jump synacks`,

    `add table inet ${t} { flags owner; }`,
    `add set inet ${t} nosplit4 { type ipv4_addr; flags interval; auto-merge; }`,
    `add set inet ${t} nosplit6 { type ipv6_addr; flags interval; auto-merge; }`,
    `add element inet ${t} nosplit4 ${elements(NEVER_SPLIT_V4)}`,
    `add element inet ${t} nosplit6 ${elements(NEVER_SPLIT_V6)}`,
    `add map inet ${t} rvifs { type ifname : verdict; }`,
    `add map inet ${t} rreplies { typeof fib daddr oifname : verdict; }`,
    // attachment mark . the interface its guest legs leave by (the bridge, or the routed vif)
    `add set inet ${t} legs { type mark . ifname; }`,
    `add chain inet ${t} pre { type filter hook prerouting priority mangle; policy accept; }`,
    `flush chain inet ${t} pre`,
    `add rule inet ${t} pre iifname vmap @rvifs`,
    // Never divert towards Dom0's own addresses (defence in depth: the selectors already skip them).
    `add rule inet ${t} pre meta mark & ${mask} == ${m} meta mark & 0x0000ffff != 0 fib daddr type local meta mark set 0 accept`,
    `add rule inet ${t} pre meta mark & ${mask} == ${m} meta mark & 0x0000ffff != 0 meta nfproto ipv4 meta l4proto tcp tproxy ip to 127.0.0.1:${listenPort} accept`,
    ...(ipv6 ? [`add rule inet ${t} pre meta mark & ${mask} == ${m} meta mark & 0x0000ffff != 0 meta nfproto ipv6 meta l4proto tcp tproxy ip6 to [::1]:${listenPort} accept`] : []),
    // Replies to a routed guest's WAN legs, by the vif Dom0 routes them to (bridged ones are marked in the bridge chain).
    `add rule inet ${t} pre meta l4proto tcp fib daddr oifname vmap @rreplies`,
    `add chain inet ${t} out { type filter hook output priority 0; policy accept; }`,
    `flush chain inet ${t} out`,
    `add rule inet ${t} out ${GUEST_LEG_SYNACK} meta mark . oifname != @legs drop`,
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

const family = (a: { mode: 'bridge' | 'route' }) => (a.mode === 'bridge' ? 'bridge' : 'inet');

function checkPlacement(a: AttachmentSteering): void {
  if (a.mode === 'bridge' && (!a.bridge || !a.bridgeMac)) throw new Error(`${a.vif}: a bridged vif needs its bridge and the bridge's MAC`);
}

/** What diverts a guest's packet to the transparent listener, marked with its attachment. */
function divert(a: AttachmentSteering): string {
  const mark = hex(MARK_BASE | a.id);
  return a.mode === 'bridge'
    ? `ether daddr set ${a.bridgeMac} meta pkttype set host meta mark set ${mark} accept`
    : `meta mark set ${mark}`;
}

/**
 * Frames of a flow already split, from the guest: keep the element fresh and
 * divert. Bridged: the source MAC stays one of the vif's (m_<id>) while it
 * sends, so long-lived flows keep their replies diverted.
 */
function establishedRules(a: AttachmentSteering): string[] {
  const fam = family(a);
  const mac = a.mode === 'bridge' ? ` update @m_${a.id} { ether saddr }` : '';
  return ([4, 6] as const).map((v) =>
    `add rule ${fam} ${TABLE} v${a.id} meta l4proto tcp ${TUPLE[v]} @f${v}_${a.id} update @f${v}_${a.id} { ${TUPLE[v]} }${mac} ${divert(a)}`);
}

/** Per-attachment objects and rules. Names carry the attachment id. Safe to
 * run again over a previous xlnetd's objects of the same id (see baseRules). */
export function attachmentRules(a: AttachmentSteering): string[] {
  checkPlacement(a);
  const t = TABLE;
  const id = a.id;
  const fam = family(a);
  const mark = hex(MARK_BASE | id);
  const v4cidrs = a.selector.excludeCidrs.filter((c) => !c.includes(':'));
  const v6cidrs = a.selector.excludeCidrs.filter((c) => c.includes(':'));
  const dynamic = `size ${a.maxFlows}; flags dynamic,timeout; timeout ${a.flowTimeoutSec}s;`;
  const flowSet = (type: string) => `{ type ${type} . inet_service . ${type} . inet_service; ${dynamic} }`;
  const out = [
    `add set ${fam} ${t} f4_${id} ${flowSet('ipv4_addr')}`,
    `add set ${fam} ${t} f6_${id} ${flowSet('ipv6_addr')}`,
    `add set ${fam} ${t} xp_${id} { type inet_service; flags interval; auto-merge; }`,
    `add set ${fam} ${t} x4_${id} { type ipv4_addr; flags interval; auto-merge; }`,
    `add set ${fam} ${t} x6_${id} { type ipv6_addr; flags interval; auto-merge; }`,
    `add set ${fam} ${t} a4_${id} { type ipv4_addr; flags interval; auto-merge; }`,
    `add set ${fam} ${t} a6_${id} { type ipv6_addr; flags interval; auto-merge; }`,
    `add set ${fam} ${t} r4_${id} { type ipv4_addr; flags interval; auto-merge; }`,
    `add set ${fam} ${t} r6_${id} { type ipv6_addr; flags interval; auto-merge; }`,
    // Over sets a previous xlnetd left, the selector and scope start afresh
    // (the flow sets, holding the established flows, are kept).
    ...[`xp_${id}`, `x4_${id}`, `x6_${id}`, `a4_${id}`, `a6_${id}`, `r4_${id}`, `r6_${id}`].map((n) => `flush set ${fam} ${t} ${n}`),
    ...scopeElements(fam, id, a.scope),
  ];
  // The MACs this vif's SYNs and flows come from: where its replies may be diverted (at most one per flow).
  if (a.mode === 'bridge') out.push(`add set bridge ${t} m_${id} { type ether_addr; ${dynamic} }`);
  if (a.selector.excludePorts.length) out.push(`add element ${fam} ${t} xp_${id} ${portSet(a.selector.excludePorts)}`);
  if (v4cidrs.length) out.push(`add element ${fam} ${t} x4_${id} ${elements(v4cidrs)}`);
  if (v6cidrs.length) out.push(`add element ${fam} ${t} x6_${id} ${elements(v6cidrs)}`);
  // A routed guest's SYN is split only when Dom0 routes its source back through this vif.
  const owned = a.mode === 'route' ? ' fib saddr . iif oif exists' : '';
  // The MAC first: if either set is full the SYN goes direct, with nothing remembered that would divert its later frames.
  const claim = a.mode === 'bridge' ? ` update @m_${id} { ether saddr }` : '';
  const select = (v: 4 | 6) => {
    const ip = v === 4 ? 'ip' : 'ip6';
    return `${ip} daddr != @nosplit${v} ${ip} daddr @a${v}_${id} ${ip} daddr != @r${v}_${id} ${ip} daddr != @x${v}_${id} tcp dport != @xp_${id}`;
  };
  out.push(
    `add chain ${fam} ${t} v${id}`,
    `flush chain ${fam} ${t} v${id}`,
    ...establishedRules(a),
    // A new connection that the selector lets through: remember it (fails when the set is full: then it stays direct).
    ...(a.ipv6 === false ? [4] as const : [4, 6] as const).map((v) =>
      `add rule ${fam} ${t} v${id} meta l4proto tcp ${SYN}${owned} ${select(v)}${claim} update @f${v}_${id} { ${TUPLE[v]} } ${divert(a)}`),
  );
  if (a.mode === 'bridge') {
    out.push(
      `add chain bridge ${t} o${id}`,
      `flush chain bridge ${t} o${id}`,
      `add rule bridge ${t} o${id} oifname "${a.vif}" ether daddr @m_${id} accept`,
      `add element bridge ${t} vifs { "${a.vif}" : jump v${id} }`,
      `add element bridge ${t} legs { ${mark} : jump o${id} }`,
      `add element inet ${t} legs { ${mark} . "${a.bridge}" }`,
    );
  } else {
    out.push(
      `add chain inet ${t} rr${id}`,
      `flush chain inet ${t} rr${id}`,
      ...([4, 6] as const).map((v) => `add rule inet ${t} rr${id} meta l4proto tcp ${REPLY[v]} @f${v}_${id} meta mark set ${hex(MARK_BASE)} accept`),
      `add element inet ${t} rvifs { "${a.vif}" : jump v${id} }`,
      `add element inet ${t} rreplies { "${a.vif}" : jump rr${id} }`,
      `add element inet ${t} legs { ${mark} . "${a.vif}" }`,
    );
  }
  return out;
}

/**
 * The bridge chain that diverts replies of split flows (they arrive from any
 * bridge port), rebuilt as a whole whenever the set of bridged attachments
 * changes. Run it in the same batch as the change.
 */
export function replyChainRules(attachments: AttachmentSteering[]): string[] {
  const t = TABLE;
  const out = [`flush chain bridge ${t} replies`];
  for (const a of attachments) {
    if (a.mode !== 'bridge') continue;
    checkPlacement(a);
    const divertReply = `ether daddr set ${a.bridgeMac} meta pkttype set host meta mark set ${hex(MARK_BASE)} accept`;
    for (const v of [4, 6] as const) {
      out.push(`add rule bridge ${t} replies ether daddr @m_${a.id} ${REPLY[v]} @f${v}_${a.id} ${divertReply}`);
    }
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
  const fam = family(a);
  return [
    ...['a4', 'a6', 'r4', 'r6'].map((s) => `flush set ${fam} ${TABLE} ${s}_${a.id}`),
    ...scopeElements(fam, a.id, a.scope),
  ];
}

/** Replaces the selector's exclusions of an attachment (new connections only). */
export function selectorRules(a: AttachmentSteering): string[] {
  const fam = family(a);
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
 * Stops new connections of the vif from being split; flows already split keep
 * their diversion, and their elements stay fresh while they carry traffic.
 */
export function stopNewFlowsRules(a: AttachmentSteering): string[] {
  checkPlacement(a);
  // Flushing and re-adding the established-flow rules is simpler than tracking rule handles.
  return [`add chain ${family(a)} ${TABLE} v${a.id}`, `flush chain ${family(a)} ${TABLE} v${a.id}`, ...establishedRules(a)];
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
  const set = isIPv6(guestIp) ? `f6_${a.id}` : `f4_${a.id}`;
  return { fam: family(a), set, elem: `{ ${guestIp} . ${guestPort} . ${dstIp} . ${dstPort} }` };
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
  checkPlacement(a);
  const t = TABLE;
  const id = a.id;
  const fam = family(a);
  const mark = hex(MARK_BASE | id);
  const out: string[] = [];
  if (a.mode === 'bridge') {
    out.push(
      `delete element bridge ${t} vifs { "${a.vif}" }`,
      `delete element bridge ${t} legs { ${mark} }`,
      `delete element inet ${t} legs { ${mark} . "${a.bridge}" }`,
      `delete chain bridge ${t} v${id}`,
      `delete chain bridge ${t} o${id}`,
      `delete set bridge ${t} m_${id}`,
    );
  } else {
    out.push(
      `delete element inet ${t} rvifs { "${a.vif}" }`,
      `delete element inet ${t} rreplies { "${a.vif}" }`,
      `delete element inet ${t} legs { ${mark} . "${a.vif}" }`,
      `delete chain inet ${t} v${id}`,
      `delete chain inet ${t} rr${id}`,
    );
  }
  for (const s of ['f4', 'f6', 'xp', 'x4', 'x6', 'a4', 'a6', 'r4', 'r6']) out.push(`delete set ${fam} ${t} ${s}_${id}`);
  return out;
}
