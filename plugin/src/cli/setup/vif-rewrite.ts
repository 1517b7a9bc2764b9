// Rewriting the vif lines of a domain config so a chosen guest gets the
// service: `script=vif-localack` (stock xl) or `localack=1` (patched xl).
// Only the quoted vif entries change; comments, layout and every other
// setting stay byte for byte, so the diff the user confirms is small.
import type { DomainConfigFile } from '../xen-host.js';
import type { Method } from './methods.js';

export const LOCALACK_SCRIPT = 'vif-localack';

function tokens(spec: string): string[] {
  return spec.split(',');
}

function scriptOf(spec: string): string | undefined {
  const t = tokens(spec).map((x) => x.replace(/^ +/, '')).filter((x) => x.startsWith('script='));
  return t.length ? t[t.length - 1].slice('script='.length) : undefined;
}

/** vif-localack wraps vif-bridge; installed as vif-localack-route it wraps vif-route. */
const WRAPPER: Record<string, string> = { 'vif-bridge': LOCALACK_SCRIPT, 'vif-route': `${LOCALACK_SCRIPT}-route` };

/**
 * The vif spec with the service turned on by `method`, or the same spec when
 * it already is. `defaultScript` is what libxl runs when the spec names none
 * (xl.conf's vif.default.script, else vif-bridge).
 */
export function enableInSpec(spec: string, method: Method, defaultScript = 'vif-bridge'): { spec: string; note?: string } {
  if (method === 'hook') return { spec };
  if (method === 'xl') {
    if (tokens(spec).some((t) => t.replace(/^ +/, '').startsWith('localack='))) return { spec };
    return { spec: `${spec.replace(/,+$/, '')},localack=1` };
  }
  const script = scriptOf(spec);
  const base = (script ?? defaultScript).slice((script ?? defaultScript).lastIndexOf('/') + 1);
  if (Object.values(WRAPPER).includes(base)) return { spec };
  const wrapper = WRAPPER[base];
  if (wrapper === undefined) {
    // vif-openvswitch, vif-nat or a site script: nothing wraps it.
    return { spec, note: `keeps script=${base}: vif-localack wraps only vif-bridge and vif-route; use the vif-post.d hook for this vif` };
  }
  if (script !== undefined) {
    return { spec: tokens(spec).map((t) => (t.replace(/^ +/, '').startsWith('script=') ? t.replace(/script=.*/, `script=${wrapper}`) : t)).join(',') };
  }
  return { spec: `${spec.replace(/,+$/, '')},script=${wrapper}` };
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
export function rewriteDomainConfig(text: string, dom: DomainConfigFile, method: Method, defaultScript?: string): DomainRewrite {
  const notes: string[] = [];
  const lines = text.split('\n');
  const cursor = new Map<number, number>();
  dom.vifs.forEach((spec, i) => {
    const { spec: next, note } = enableInSpec(spec, method, defaultScript);
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
