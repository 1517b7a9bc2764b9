// CIDR lists such as `10.0.0.0/8, fd00::/8` (exclude_cidrs). A bare address
// means a single host (/32 or /128). Host bits set below the prefix
// (10.0.0.1/8) are refused: it is usually a typo, and nft would silently
// widen it to the network.
import { isIPv4, isIPv6 } from 'node:net';
import { ValueError } from './config-error.js';

export interface Cidr {
  family: 4 | 6;
  /** The address as written (lower case), without the prefix. */
  address: string;
  prefix: number;
}

export function parseCidrList(s: string): Cidr[] {
  const t = s.trim();
  if (t === '') return [];
  return t.split(',').map((item) => parseCidr(item.trim()));
}

export function parseCidr(item: string): Cidr {
  if (item === '') throw new ValueError('empty item in the CIDR list');
  const slash = item.indexOf('/');
  const address = (slash < 0 ? item : item.slice(0, slash)).toLowerCase();
  const prefixText = slash < 0 ? undefined : item.slice(slash + 1);
  let family: 4 | 6;
  let bytes: number[];
  if (isIPv4(address) && !/(^|\.)0\d/.test(address)) {
    // Leading zeros (010.0.0.1) mean octal to some tools and decimal to
    // others; refuse rather than guess.
    family = 4;
    bytes = address.split('.').map(Number);
  } else if (isIPv6(address) && !address.includes('%')) {
    family = 6;
    bytes = ipv6Bytes(address);
  } else {
    throw new ValueError(`\`${item}' is not an IPv4 or IPv6 address or CIDR`);
  }
  const bits = family === 4 ? 32 : 128;
  let prefix = bits;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits) {
      throw new ValueError(`\`${item}': prefix length must be 0..${bits}`);
    }
    prefix = Number(prefixText);
  }
  const network = maskBytes(bytes, prefix);
  if (network.some((b, i) => b !== bytes[i])) {
    const net = family === 4 ? network.join('.') : formatIPv6(network);
    throw new ValueError(`\`${item}' has host bits set (did you mean ${net}/${prefix}?)`);
  }
  return { family, address, prefix };
}

export function formatCidrList(list: readonly Cidr[]): string {
  return list.map((c) => `${c.address}/${c.prefix}`).join(',');
}

function maskBytes(bytes: readonly number[], prefix: number): number[] {
  return bytes.map((b, i) => {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    return b & ((0xff << (8 - keep)) & 0xff);
  });
}

/** 16 bytes of an address that node:net already accepted as IPv6. */
function ipv6Bytes(addr: string): number[] {
  let text = addr;
  const tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    // ::ffff:192.0.2.1 - the last 32 bits written as dotted quad.
    tail.push(...v4[1].split('.').map(Number));
    text = text.slice(0, -v4[1].length) + '0:0';
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const groups = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const h = groups(head);
  const r = rest === undefined ? [] : groups(rest);
  const zeros = rest === undefined ? 0 : 8 - h.length - r.length;
  const words = [...h, ...new Array<number>(zeros).fill(0), ...r];
  const bytes = words.flatMap((w) => [w >> 8, w & 0xff]);
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}

/** RFC 5952 text form (longest run of zero groups compressed). */
function formatIPv6(bytes: readonly number[]): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((bytes[i] << 8) | bytes[i + 1]);
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}
