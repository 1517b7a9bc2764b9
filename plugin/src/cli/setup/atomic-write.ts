// Writes that never leave a half-written file behind: the new content goes
// to a temporary file in the same directory, is flushed, gets its mode (and
// the old file's owner), and is renamed over the target in one step.
import { chmodSync, chownSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, basename, join } from 'node:path';

export function sha256(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

/** mkdir -p that returns the directories it created, outermost first. */
export function makeDirs(dir: string): string[] {
  const missing: string[] = [];
  let d = dir;
  while (!existsSync(d)) {
    missing.unshift(d);
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  for (const m of missing) mkdirSync(m, { mode: 0o755 });
  for (const m of missing) chmodSync(m, 0o755); // the umask must not decide
  return missing;
}

export function atomicWrite(path: string, content: string | Buffer, mode: number): void {
  const tmp = join(dirname(path), `.${basename(path)}.xlnet-tmp-${process.pid}`);
  const old = existsSync(path) ? statSync(path) : undefined;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    try {
      writeSync(fd, typeof content === 'string' ? Buffer.from(content) : content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(tmp, mode);
    if (old && process.getuid?.() === 0) chownSync(tmp, old.uid, old.gid);
    renameSync(tmp, path);
  } catch (e) {
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw e;
  }
}
