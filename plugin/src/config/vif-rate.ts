// `rate=` of an xl vif spec, exactly as libxlutil reads it (Xen 4.17
// tools/libs/util/libxlu_vif.c, xlu_vif_parse_rate): RATE[@INTERVAL] with
// RATE matching ^[0-9]+[GMK]?[Bb]/s$ and INTERVAL ^[0-9]+[mu]?s?$; numbers go
// through strtoull(base 0), so a leading 0 means octal and stops at 8 or 9.
// Any error makes xl exit.

export interface VifRate {
  bytesPerSecond: number;
  /** Replenishment interval, default 50 ms. */
  intervalUsecs: number;
  /** What libxl writes to xenstore as `rate` (with the interval). */
  bytesPerInterval: number;
}

const UINT32_MAX = 0xffffffffn;
const UINT64_MAX = 0xffffffffffffffffn;
const DEFAULT_INTERVAL_USECS = 50000n;

/** strtoull(s, &end, 0) for strings the regexes above already admitted. */
function strtoull0(s: string): { value: bigint; end: number } {
  const m = s.startsWith('0') ? /^0[0-7]*/.exec(s) : /^\d+/.exec(s);
  if (!m) return { value: 0n, end: 0 };
  const digits = m[0];
  const value = digits.startsWith('0') && digits.length > 1 ? BigInt(`0o${digits.slice(1)}`) : BigInt(digits);
  return { value, end: digits.length };
}

/** Returns the rate, or the message xl prints (without its file prefix). */
export function parseVifRate(rate: string): VifRate | { error: string } {
  const err = (msg: string, what: string): { error: string } => ({ error: `config parsing error in vif: ${msg} in \`${what}'` });
  const at = rate.indexOf('@');
  const ratePart = at < 0 ? rate : rate.slice(0, at);
  const intervalPart = at < 0 ? undefined : rate.slice(at + 1);
  if (ratePart === '') return err('no rate specified', rate);

  if (!/^[0-9]+[GMK]?[Bb]\/s$/.test(ratePart)) return err('invalid rate', ratePart);
  const r = strtoull0(ratePart);
  let bytesPerSecond = r.value;
  if (bytesPerSecond === 0n || bytesPerSecond > UINT32_MAX) return err('rate overflow', ratePart);
  const unit = ratePart[r.end];
  if (unit === 'G') bytesPerSecond *= 1000000000n;
  else if (unit === 'M') bytesPerSecond *= 1000000n;
  else if (unit === 'K') bytesPerSecond *= 1000n;
  if (unit === 'b' || ratePart[r.end + 1] === 'b') bytesPerSecond /= 8n;

  let intervalUsecs = DEFAULT_INTERVAL_USECS;
  if (intervalPart !== undefined) {
    if (!/^[0-9]+[mu]?s?$/.test(intervalPart)) return err('invalid replenishment interval', intervalPart);
    const i = strtoull0(intervalPart);
    intervalUsecs = i.value;
    if (intervalUsecs === 0n || intervalUsecs > UINT32_MAX) return err('replenishment interval overflow', intervalPart);
    const u = intervalPart[i.end];
    if (u === 's' || u === undefined) intervalUsecs *= 1000000n;
    else if (u === 'm') intervalUsecs *= 1000n;
    if (intervalUsecs > UINT32_MAX) return err('replenishment interval overflow', intervalPart);
  }

  if (bytesPerSecond > UINT64_MAX / intervalUsecs) return err('rate overflow', rate);
  const bytesPerInterval = (bytesPerSecond * intervalUsecs) / 1000000n;
  return {
    bytesPerSecond: Number(bytesPerSecond),
    intervalUsecs: Number(intervalUsecs),
    bytesPerInterval: Number(bytesPerInterval),
  };
}
