// A directory tree as {relative path: type, mode, content hash}, to compare
// a --root before and after setup.
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join, relative } from 'node:path';

export function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string): void => {
    for (const n of readdirSync(dir).sort()) {
      const p = join(dir, n);
      const st = lstatSync(p);
      const rel = relative(root, p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) { out[rel + '/'] = `dir ${mode}`; walk(p); }
      else if (st.isSymbolicLink()) out[rel] = `link ${readlinkSync(p)}`;
      else out[rel] = `file ${mode} ${createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 16)}`;
    }
  };
  walk(root);
  return out;
}
