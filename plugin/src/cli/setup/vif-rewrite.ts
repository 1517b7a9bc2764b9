// Rewriting the vif lines of a domain config so a chosen guest gets the
// service: `script=vif-localack` (stock xl) or `localack=1` (patched xl).
// Only the quoted vif entries change; comments, layout and every other
// setting stay byte for byte, so the diff the user confirms is small.
import type { DomainConfigFile } from '../xen-host.js';

export type Method = 'hook' | 'script' | 'xl';
export const METHODS: readonly Method[] = ['hook', 'script', 'xl'];

export const LOCALACK_SCRIPT = 'vif-localack';

function tokens(spec: string): string[] {
  return spec.split(',');
}

function scriptOf(spec: string): string | undefined {
  const t = tokens(spec).map((x) => x.replace(/^ +/, '')).filter((x) => x.startsWith('script='));
  return t.length ? t[t.length - 1].slice('script='.length) : undefined;
}

/** The vif spec with the service turned on by `method`, or the same spec when it already is. */
export function enableInSpec(spec: string, method: Method): { spec: string; note?: string } {
  if (method === 'hook') return { spec };
  if (method === 'xl') {
    if (tokens(spec).some((t) => t.replace(/^ +/, '').startsWith('localack='))) return { spec };
    return { spec: `${spec.replace(/,+$/, '')},localack=1` };
  }
  const script = scriptOf(spec);
  const base = script?.slice(script.lastIndexOf('/') + 1);
  if (base === LOCALACK_SCRIPT) return { spec };
  if (script !== undefined && base !== 'vif-bridge') {
    // vif-localack runs vif-bridge after its own part; another script
    // (vif-route, vif-openvswitch, a site script) would be replaced.
    return { spec, note: `keeps script=${script}: vif-localack wraps vif-bridge only; use the vif-post.d hook for this vif` };
  }
  if (script !== undefined) {
    return { spec: tokens(spec).map((t) => (t.replace(/^ +/, '').startsWith('script=') ? t.replace(/script=.*/, `script=${LOCALACK_SCRIPT}`) : t)).join(',') };
  }
  return { spec: `${spec.replace(/,+$/, '')},script=${LOCALACK_SCRIPT}` };
}

export interface DomainRewrite {
  file: string;
  before: string;
  after: string;
  notes: string[];
}

/**
 * The config text with every vif entry enabled. Each entry is found as a
 * quoted literal on the line xl read it from; an entry written with escapes
 * cannot be found that way and is reported instead of guessed at.
 */
export function rewriteDomainConfig(text: string, dom: DomainConfigFile, method: Method): DomainRewrite {
  const notes: string[] = [];
  const lines = text.split('\n');
  const cursor = new Map<number, number>();
  dom.vifs.forEach((spec, i) => {
    const { spec: next, note } = enableInSpec(spec, method);
    if (note) notes.push(`vif ${i}: ${note}`);
    if (next === spec) return;
    const ln = dom.vifLines[i] - 1;
    const line = lines[ln] ?? '';
    const from = cursor.get(ln) ?? 0;
    let at = -1;
    let quote = '';
    for (const q of ["'", '"']) {
      const k = line.indexOf(`${q}${spec}${q}`, from);
      if (k >= 0 && (at < 0 || k < at)) { at = k; quote = q; }
    }
    if (at < 0 || next.includes(quote)) {
      notes.push(`vif ${i} (line ${dom.vifLines[i]}): not changed: its text is written with escapes; add the setting by hand`);
      return;
    }
    const replacement = `${quote}${next}${quote}`;
    lines[ln] = line.slice(0, at) + replacement + line.slice(at + spec.length + 2);
    cursor.set(ln, at + replacement.length);
  });
  return { file: dom.file, before: text, after: lines.join('\n'), notes };
}
