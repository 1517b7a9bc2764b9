// The package's version, read from the package.json that ships with the code
// (found by walking up from this file, so src/ under tsx and dist/ agree).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository (or installed package) root: where package.json, templates/ and hotplug-scripts/ are. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) {
      try {
        if ((JSON.parse(readFileSync(p, 'utf8')) as { name?: string }).name === 'xlnet') return dir;
      } catch { /* not ours */ }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the xlnet package root (package.json with name "xlnet") above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}
