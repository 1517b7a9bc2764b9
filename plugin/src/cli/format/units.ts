// Numbers as people read them in tables: sizes in binary units (what `ip`
// and `free -h` show), rates in decimal bits per second (what links are sold
// in), ages as the two largest units.

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 0 -> "0 B", 1536 -> "1.5 KiB", 47185920 -> "45.0 MiB". */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '-';
  let v = n;
  let i = 0;
  while (v >= 1024 && i < BYTE_UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${BYTE_UNITS[i]}`;
}

const RATE_UNITS = ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s', 'Tbit/s'];

/** Bytes per second -> "12.3 Mbit/s". */
export function formatRate(bytesPerSec: number): string {
  if (!Number.isFinite(bytesPerSec) || bytesPerSec < 0) return '-';
  let v = bytesPerSec * 8;
  let i = 0;
  while (v >= 1000 && i < RATE_UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${Math.round(v)} ${RATE_UNITS[i]}` : `${v.toFixed(1)} ${RATE_UNITS[i]}`;
}

/** Milliseconds -> "850ms", "42s", "3m05s", "2h04m", "3d07h". */
export function formatAge(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const pad = (x: number): string => String(x).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86400)}d${pad(Math.floor((s % 86400) / 3600))}h`;
}

/** Whole seconds (an uptime) -> "0s", "42s", "2h04m". */
export function formatUptime(seconds: number): string {
  return seconds < 1 ? '0s' : formatAge(Math.floor(seconds) * 1000);
}
