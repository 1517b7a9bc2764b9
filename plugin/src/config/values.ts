// Turns one ini value into its typed form according to its schema entry, and
// back. Problems are thrown as ValueError; the caller adds the location.
import { formatCidrList, parseCidrList, type Cidr } from './cidr-list.js';
import { ValueError } from './config-error.js';
import { formatPortList, parsePortList, type PortRange } from './port-list.js';
import { NAME_RE, RESERVED_PROFILE_NAMES, isBooleanWord, type KeySpec } from './schema.js';
import { formatDuration, formatSize, parseDuration, parseSize } from './units.js';

export type SettingValue = string | number | boolean | PortRange[] | Cidr[] | 'all' | number[];

const TRUE_WORDS = ['yes', 'true', 'on', '1'];
const FALSE_WORDS = ['no', 'false', 'off', '0'];
/** TCP_CA_NAME_MAX is 16 bytes including the NUL. */
const CC_NAME_RE = /^[a-z0-9_]{1,15}$/;
/** libxl keeps devids in an int. */
const MAX_DEVID = 2147483647;

export function parseValue(spec: KeySpec, raw: string): SettingValue {
  const v = raw.trim();
  switch (spec.type) {
    case 'path':
      if (!v.startsWith('/')) throw new ValueError('not an absolute path');
      if (spec.maxBytes !== undefined && Buffer.byteLength(v) > spec.maxBytes) {
        throw new ValueError(`longer than ${spec.maxBytes} bytes`);
      }
      return v;
    case 'enum':
      if (!spec.values?.includes(v)) throw new ValueError('not one of the choices');
      return v;
    case 'bool': {
      const w = v.toLowerCase();
      if (TRUE_WORDS.includes(w)) return true;
      if (FALSE_WORDS.includes(w)) return false;
      throw new ValueError('not yes or no');
    }
    case 'size':
      return bounded(spec, parseSize(v), parseSize, formatSize);
    case 'duration':
      return bounded(spec, parseDuration(v), parseDuration, formatDuration);
    case 'count':
      if (!/^\d+$/.test(v)) throw new ValueError('not a whole number');
      return bounded(spec, Number(v), Number, String);
    case 'cc':
      if (!CC_NAME_RE.test(v)) throw new ValueError('not a congestion control name');
      return v;
    case 'ports':
      return parsePortList(v);
    case 'cidrs':
      return parseCidrList(v);
    case 'profile-ref':
      if (!NAME_RE.test(v) || isBooleanWord(v)) throw new ValueError('not a profile name');
      return v;
    case 'localack':
      return parseLocalackValue(v);
    case 'devids':
      return parseDevids(v);
  }
}

function bounded(
  spec: KeySpec,
  n: number,
  parse: (s: string) => number,
  format: (n: number) => string,
): number {
  if (n === 0 && spec.zeroMeans !== undefined) return 0;
  if (spec.min !== undefined && n < parse(spec.min)) throw new ValueError(`below the minimum ${spec.min}`);
  if (spec.max !== undefined && n > parse(spec.max)) {
    throw new ValueError(`above the maximum ${spec.max} (${format(n)})`);
  }
  return n;
}

/** 0|1|required|<profile name>; whether the profile exists is checked later. */
export function parseLocalackValue(v: string): string {
  if (isBooleanWord(v)) throw new ValueError('use 1 to enable or 0 to disable');
  if (RESERVED_PROFILE_NAMES.includes(v) || NAME_RE.test(v)) return v;
  throw new ValueError('not 0, 1, required or a profile name (A-Z a-z 0-9 _ -, at most 32 characters)');
}

function parseDevids(v: string): 'all' | number[] {
  if (v === 'all') return 'all';
  if (v === '') throw new ValueError('empty (write `all` for every vif)');
  return v.split(',').map((item) => {
    const t = item.trim();
    if (!/^\d+$/.test(t) || Number(t) > MAX_DEVID) throw new ValueError(`\`${t}' is not a vif devid`);
    return Number(t);
  });
}

export function formatValue(spec: KeySpec, value: SettingValue): string {
  switch (spec.type) {
    case 'bool':
      return value === true ? 'yes' : 'no';
    case 'size':
      return formatSize(value as number);
    case 'duration':
      return formatDuration(value as number);
    case 'count':
      return String(value);
    case 'ports':
      return formatPortList(value as PortRange[]);
    case 'cidrs':
      return formatCidrList(value as Cidr[]);
    case 'devids':
      return value === 'all' ? 'all' : (value as number[]).join(',');
    default:
      return String(value);
  }
}
