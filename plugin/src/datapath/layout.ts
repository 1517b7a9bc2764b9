// The bytes of the datapath maps' keys and values, encoded and decoded exactly
// as datapath/xlnet.h lays them out (x86_64/aarch64: little-endian, natural
// alignment). The loader compares these sizes with the maps' BTF sizes, so a
// change to xlnet.h that is not made here stops the load.

export const LEG_GUEST = 1, LEG_WAN = 2;
export type Leg = 'guest' | 'wan';
const LEG_NAMES: Record<number, Leg> = { [LEG_GUEST]: 'guest', [LEG_WAN]: 'wan' };

export const CC_NAME_MAX = 16; // XLNET_CC_NAME_MAX, TCP_CA_NAME_MAX in the kernel
/** XLNET_MAX_VIFS: attachments the maps have room for (per-vif counters, relay vifs). */
export const MAX_VIFS = 4096;
/** XLNET_MAX_PROFILES: tuning slots (xlnet_profiles). */
export const MAX_PROFILES = 256;

export const SIZES = {
  sk: 24, // struct xlnet_sk
  tuning: 32, // struct xlnet_tuning
  cookie: 8, // __u64 socket cookie
  flow: 96, // struct xlnet_flow
  vifKey: 8, // struct xlnet_vif_key
  vifTotals: 40, // struct xlnet_vif_totals
  fd: 4, // int: socket storage maps are keyed by the socket's fd from user space
  u32: 4,
  relayCtl: 32, // struct xlnet_relay_ctl
  relayStat: 48, // struct xlnet_relay_stat
} as const;

/** XLNET_TUNE_* bits: settings the kernel refused for a socket. */
const TUNE_BITS: [number, string][] = [
  [1 << 0, 'cc'], [1 << 1, 'initcwnd'], [1 << 2, 'cwndClamp'], [1 << 3, 'sndbuf'], [1 << 4, 'rcvbuf'],
  [1 << 5, 'profile'],
];

export interface TuningValues {
  initcwnd: number;
  cwndClamp: number;
  sndbuf: number;
  rcvbuf: number;
  cc: string;
}

export interface SocketState {
  attachment: number;
  profile: number;
  /** The socket cookie once the connection is established, else undefined. */
  cookie: bigint | undefined;
  /** Settings of the profile the kernel refused for this socket (e.g. 'cc'). */
  tuneFailed: string[];
}

export interface Endpoint { address: string; port: number }

export interface FlowCounters {
  cookie: bigint;
  attachment: number;
  profile: number;
  leg: Leg;
  /** The socket reached TCP_CLOSE: the counters are final. */
  closed: boolean;
  family: 4 | 6;
  local: Endpoint;
  remote: Endpoint;
  /** CLOCK_MONOTONIC nanoseconds at establishment. */
  establishedNs: bigint;
  /** Payload bytes sent and acknowledged by the peer. */
  bytesAcked: number;
  /** Payload bytes received in sequence. */
  bytesReceived: number;
  /** Segments (packets) sent/received, pure ACKs and retransmissions included. */
  segsOut: number;
  segsIn: number;
  dataSegsOut: number;
  dataSegsIn: number;
  totalRetrans: number;
}

export interface Counters {
  bytesAcked: number;
  bytesReceived: number;
  segsOut: number;
  segsIn: number;
}

export function u32Key(v: number): Buffer {
  const b = Buffer.alloc(SIZES.u32);
  b.writeUInt32LE(v);
  return b;
}

export function fdKey(fd: number): Buffer {
  const b = Buffer.alloc(SIZES.fd);
  b.writeInt32LE(fd);
  return b;
}

export function cookieKey(cookie: bigint): Buffer {
  const b = Buffer.alloc(SIZES.cookie);
  b.writeBigUInt64LE(cookie);
  return b;
}

/** XLNET_SK_RELAY: a WAN leg of a kernel-relayed connection. */
export const SK_RELAY = 1;

export function encodeSk(attachment: number, profile: number, flags = 0): Buffer {
  const b = Buffer.alloc(SIZES.sk);
  b.writeUInt32LE(attachment, 0);
  b.writeUInt32LE(profile, 4);
  b.writeUInt32LE(flags, 20);
  return b; // cookie and tune_failed are written by BPF
}

export function decodeSk(b: Buffer): SocketState {
  const cookie = b.readBigUInt64LE(8);
  const failed = b.readUInt32LE(16);
  return {
    attachment: b.readUInt32LE(0),
    profile: b.readUInt32LE(4),
    cookie: cookie === 0n ? undefined : cookie,
    tuneFailed: TUNE_BITS.filter(([bit]) => failed & bit).map(([, name]) => name),
  };
}

export function encodeTuning(t: TuningValues): Buffer {
  const b = Buffer.alloc(SIZES.tuning);
  b.writeUInt32LE(t.initcwnd, 0);
  b.writeUInt32LE(t.cwndClamp, 4);
  b.writeUInt32LE(t.sndbuf, 8);
  b.writeUInt32LE(t.rcvbuf, 12);
  b.write(t.cc, 16, CC_NAME_MAX - 1, 'latin1'); // rest stays NUL
  return b;
}

export function decodeTuning(b: Buffer): TuningValues {
  const cc = b.subarray(16, 16 + CC_NAME_MAX).toString('latin1');
  return {
    initcwnd: b.readUInt32LE(0), cwndClamp: b.readUInt32LE(4), sndbuf: b.readUInt32LE(8), rcvbuf: b.readUInt32LE(12),
    cc: cc.slice(0, cc.indexOf('\0') < 0 ? undefined : cc.indexOf('\0')),
  };
}

function address(b: Buffer, off: number, family: 4 | 6): string {
  if (family === 4) return [...b.subarray(off, off + 4)].join('.');
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(off + i * 2).toString(16));
  // The WHATWG URL parser prints IPv6 in its canonical shortest form.
  return new URL(`http://[${groups.join(':')}]`).hostname.slice(1, -1);
}

export function decodeFlow(cookie: Buffer, b: Buffer): FlowCounters {
  const family = b.readUInt8(10) === 6 ? 6 : 4;
  return {
    cookie: cookie.readBigUInt64LE(0),
    attachment: b.readUInt32LE(0),
    profile: b.readUInt32LE(4),
    leg: LEG_NAMES[b.readUInt8(8)] ?? 'wan',
    closed: b.readUInt8(9) === 1,
    family,
    local: { address: address(b, 16, family), port: b.readUInt16LE(12) },
    remote: { address: address(b, 32, family), port: b.readUInt16LE(14) },
    establishedNs: b.readBigUInt64LE(48),
    bytesAcked: Number(b.readBigUInt64LE(56)),
    bytesReceived: Number(b.readBigUInt64LE(64)),
    segsOut: b.readUInt32LE(72),
    segsIn: b.readUInt32LE(76),
    dataSegsOut: b.readUInt32LE(80),
    dataSegsIn: b.readUInt32LE(84),
    totalRetrans: b.readUInt32LE(88),
  };
}

export function encodeVifKey(attachment: number, leg: number): Buffer {
  const b = Buffer.alloc(SIZES.vifKey);
  b.writeUInt32LE(attachment, 0);
  b.writeUInt32LE(leg, 4);
  return b;
}

export function decodeVifKey(b: Buffer): { attachment: number; leg: Leg } {
  return { attachment: b.readUInt32LE(0), leg: LEG_NAMES[b.readUInt32LE(4)] ?? 'wan' };
}

export function decodeVifTotals(b: Buffer): Counters & { flows: number } {
  return {
    bytesAcked: Number(b.readBigUInt64LE(0)),
    bytesReceived: Number(b.readBigUInt64LE(8)),
    segsOut: Number(b.readBigUInt64LE(16)),
    segsIn: Number(b.readBigUInt64LE(24)),
    flows: Number(b.readBigUInt64LE(32)),
  };
}

/** struct xlnet_relay_ctl: one direction of a kernel-relayed connection, written by the daemon. */
export interface RelayCtl {
  /** Cookie of the target socket. */
  peer: bigint;
  /** Bytes the kernel may hold for this direction (redirect queue + target's send queue). */
  limit: number;
  /** The target's bytes_acked (flow record) when the relay started. */
  baseAcked: number;
  /** Passed bytes the daemon has written into the target. */
  forwarded: number;
}

/** struct xlnet_relay_stat, written by the verdict. */
export interface RelayStat {
  redirected: number;
  passed: number;
  passing: boolean;
  noTarget: number;
  /** bytes of TCP retransmissions that overlapped data already handed on, cut off by the verdict */
  trimmed: number;
  /** skbs that started beyond the next expected byte (a kernel fault: never seen) */
  gaps: number;
  /** skbs the verdict could not examine or cut (the connection must be reset) */
  faults: number;
}

export function encodeRelayCtl(c: RelayCtl): Buffer {
  const b = Buffer.alloc(SIZES.relayCtl);
  b.writeBigUInt64LE(c.peer, 0);
  b.writeBigUInt64LE(BigInt(c.limit), 8);
  b.writeBigUInt64LE(BigInt(c.baseAcked), 16);
  b.writeBigUInt64LE(BigInt(c.forwarded), 24);
  return b;
}

export function decodeRelayStat(b: Buffer): RelayStat {
  return {
    redirected: Number(b.readBigUInt64LE(0)),
    passed: Number(b.readBigUInt64LE(8)),
    passing: b.readUInt32LE(16) !== 0,
    noTarget: b.readUInt32LE(20),
    trimmed: Number(b.readBigUInt64LE(24)),
    gaps: b.readUInt32LE(40),
    faults: b.readUInt32LE(44),
  };
}
