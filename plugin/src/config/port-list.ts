// Port lists such as `22,5900-5999` (exclude_ports): ports or inclusive
// ranges, comma separated. Ranges are kept as written (not merged) so a
// rendered config reads like the one the user wrote.
import { ValueError } from './config-error.js';

export interface PortRange {
  from: number;
  to: number;
}

const MAX_PORT = 65535;

export function parsePortList(s: string): PortRange[] {
  const t = s.trim();
  if (t === '') return [];
  return t.split(',').map((item) => parsePortItem(item.trim()));
}

function parsePortItem(item: string): PortRange {
  if (item === '') throw new ValueError('empty item in the port list');
  const m = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(item);
  if (!m) throw new ValueError(`\`${item}' is not a port or a port range`);
  const from = parsePort(m[1]);
  const to = m[2] === undefined ? from : parsePort(m[2]);
  if (to < from) throw new ValueError(`range ${item} ends before it starts`);
  return { from, to };
}

function parsePort(digits: string): number {
  const n = Number(digits);
  // Port 0 is "any port" to the kernel, never a real destination.
  if (n < 1 || n > MAX_PORT) throw new ValueError(`port ${digits} is outside 1..${MAX_PORT}`);
  return n;
}

export function formatPortList(ranges: readonly PortRange[]): string {
  return ranges.map((r) => (r.from === r.to ? String(r.from) : `${r.from}-${r.to}`)).join(',');
}

export function portInList(port: number, ranges: readonly PortRange[]): boolean {
  return ranges.some((r) => port >= r.from && port <= r.to);
}
