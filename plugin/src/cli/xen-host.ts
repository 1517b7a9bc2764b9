// What the CLI needs to know about the host's Xen toolstack: whether xl is
// the patched one (knows `localack=`), the vif defaults in xl.conf, and the
// domain configs in /etc/xen. Used by `xlnet check` and `xlnet setup`.
import { existsSync, openSync, readFileSync, readSync, closeSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { XlConfigError, parseXlDomainConfig } from '../config/index.js';

export interface XlDetection {
  patched: boolean;
  /** The xl binary that was looked at. */
  binary?: string;
  /** One line for people. */
  detail: string;
}

/** Does the file contain these bytes? Read in chunks: xl is a few hundred KB. */
function fileContains(file: string, needle: string): boolean {
  const want = Buffer.from(needle);
  const fd = openSync(file, 'r');
  try {
    const chunk = Buffer.alloc(1 << 16);
    let carry = Buffer.alloc(0);
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) return false;
      const hay = Buffer.concat([carry, chunk.subarray(0, n)]);
      if (hay.includes(want)) return true;
      carry = hay.subarray(Math.max(0, hay.length - want.length + 1));
    }
  } finally {
    closeSync(fd);
  }
}

function isElf(file: string): boolean {
  try {
    const fd = openSync(file, 'r');
    try {
      const b = Buffer.alloc(4);
      readSync(fd, b, 0, 4, 0);
      return b.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

/**
 * The xl binaries to look at: Debian's /usr/sbin/xl is a shell wrapper that
 * runs /usr/lib/xen-<version>/bin/xl, so look there first; the patched xl
 * of libxl-patch/ installs into the same place.
 */
export function xlBinaries(root = '/'): string[] {
  const out: string[] = [];
  const lib = join(root, 'usr/lib');
  try {
    for (const d of readdirSync(lib).filter((x) => /^xen-\d/.test(x)).sort().reverse()) {
      const p = join(lib, d, 'bin/xl');
      if (existsSync(p)) out.push(p);
    }
  } catch { /* no /usr/lib: nothing there */ }
  for (const p of ['usr/local/sbin/xl', 'usr/sbin/xl']) {
    const full = join(root, p);
    if (existsSync(full) && isElf(full)) out.push(full);
  }
  return out;
}

/**
 * Patched xl parses `localack=` (libxl-patch 0003), so the word is in its
 * binary; stock xl 4.17 never mentions it.
 */
export function detectPatchedXl(root = '/'): XlDetection {
  const bins = xlBinaries(root);
  if (bins.length === 0) return { patched: false, detail: 'no xl binary found (is xen-utils installed?)' };
  for (const b of bins) {
    try {
      if (fileContains(b, 'localack')) return { patched: true, binary: b, detail: `${b} knows localack= (patched xl)` };
    } catch { /* unreadable: try the next */ }
  }
  return {
    patched: false, binary: bins[0],
    detail: `${bins[0]} is stock xl: localack= in a vif spec is dropped (use the vif-post.d hook or script=vif-localack, or build libxl-patch/)`,
  };
}

export interface XlDefaults {
  script?: string;
  bridge?: string;
}

/**
 * vif.default.script and vif.default.bridge from xl.conf. Read with a line
 * pattern because the config module's xl grammar takes identifiers without
 * dots (domain configs have none; xl.conf does).
 */
export function readXlDefaults(xlConf: string): XlDefaults {
  let text: string;
  try { text = readFileSync(xlConf, 'utf8'); } catch { return {}; }
  const out: XlDefaults = {};
  for (const m of text.matchAll(/^[ \t]*vif\.default\.(script|bridge)[ \t]*=[ \t]*(["'])([^"'\n]*)\2/gm)) {
    out[m[1] as 'script' | 'bridge'] = m[3];
  }
  return out;
}

export interface DomainConfigFile {
  file: string;
  name?: string;
  vifs: string[];
  vifLines: number[];
  /** Why xl would refuse the file, when it would. */
  error?: string;
}

/** The domain configs in a directory (xl's convention: /etc/xen/NAME.cfg). */
export function findDomainConfigs(dir: string): DomainConfigFile[] {
  let names: string[];
  try { names = readdirSync(dir); } catch { return []; }
  const out: DomainConfigFile[] = [];
  for (const n of names.filter((x) => x.endsWith('.cfg')).sort()) {
    const file = join(dir, n);
    try { if (!statSync(file).isFile()) continue; } catch { continue; }
    try {
      const d = parseXlDomainConfig(readFileSync(file, 'utf8'), file);
      out.push({ file, name: d.name, vifs: d.vifs, vifLines: d.vifLines });
    } catch (e) {
      if (e instanceof XlConfigError) out.push({ file, vifs: [], vifLines: [], error: e.message.split('\n')[0] });
      else out.push({ file, vifs: [], vifLines: [], error: (e as Error).message });
    }
  }
  return out;
}
