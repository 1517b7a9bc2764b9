// Sizes and durations as people write them in xlnet.conf: `4m`, `64k`, `1h`,
// `1h30m`. Sizes are binary (k = 1024) because they end up in socket buffer
// sizes, which the kernel counts in bytes; durations are whole seconds.
import { ValueError } from './config-error.js';

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** "4m" -> 4194304. Bytes, or a whole number with a k, m or g suffix (any case). */
export function parseSize(s: string): number {
  const m = /^(\d+)\s*([kmg]?)$/i.exec(s.trim());
  if (!m) throw new ValueError('not a size');
  const bytes = Number(m[1]) * SIZE_UNITS[m[2].toLowerCase()];
  if (!Number.isSafeInteger(bytes)) throw new ValueError('too large');
  return bytes;
}

/** 4194304 -> "4m": the largest suffix that represents the value exactly. */
export function formatSize(bytes: number): string {
  for (const unit of ['g', 'm', 'k'] as const) {
    const f = SIZE_UNITS[unit];
    if (bytes !== 0 && bytes % f === 0) return `${bytes / f}${unit}`;
  }
  return String(bytes);
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/**
 * "30s" -> 30, "1h30m" -> 5400, "90" -> 90 (a bare number is seconds).
 * Units s, m, h, d; parts may be combined largest first.
 */
export function parseDuration(s: string): number {
  const t = s.trim();
  if (/^\d+$/.test(t)) return checkedSeconds(Number(t));
  if (!/^(\d+[smhd])+$/i.test(t)) throw new ValueError('not a duration');
  let total = 0;
  let lastUnit = Infinity;
  for (const part of t.matchAll(/(\d+)([smhd])/gi)) {
    const unit = DURATION_UNITS[part[2].toLowerCase()];
    // "30m1h" is almost certainly a typo for something else; refuse it.
    if (unit >= lastUnit) throw new ValueError('not a duration (units must go from largest to smallest, each once)');
    lastUnit = unit;
    total += Number(part[1]) * unit;
  }
  return checkedSeconds(total);
}

function checkedSeconds(n: number): number {
  if (!Number.isSafeInteger(n)) throw new ValueError('too large');
  return n;
}

/** 3600 -> "1h": the largest unit that represents the value exactly. */
export function formatDuration(seconds: number): string {
  if (seconds === 0) return '0';
  for (const unit of ['d', 'h', 'm'] as const) {
    const f = DURATION_UNITS[unit];
    if (seconds % f === 0) return `${seconds / f}${unit}`;
  }
  return `${seconds}s`;
}
