// Carrying out a plan (and undoing it): atomic writes, a backup of every
// file that was there before setup first touched it, and the manifest that
// --uninstall reads. Undo only touches a file that is still as setup left
// it; one changed since is reported and left alone.
import { existsSync, readFileSync, readdirSync, renameSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SetupAnswers } from './answers.js';
import { atomicWrite, makeDirs, sha256 } from './atomic-write.js';
import { MANIFEST_VERSION, type Manifest, type ManifestFile } from './manifest.js';
import { hostPath, under, type SetupPaths } from './paths.js';
import type { FileChange } from './plan.js';

export const BACKUP_SUFFIX = '.xlnet-backup';

function freeBackupPath(path: string): string {
  let p = path + BACKUP_SUFFIX;
  for (let i = 1; existsSync(p); i++) p = `${path}${BACKUP_SUFFIX}.${i}`;
  return p;
}

/** Whether the manifest's answers differ from these (then the manifest is rewritten). */
export function answersChanged(m: Manifest | undefined, a: SetupAnswers): boolean {
  return !m || JSON.stringify(m.answers) !== JSON.stringify(a);
}

export interface ApplyResult {
  manifest: Manifest;
  backups: string[];
}

export function applyChanges(paths: SetupPaths, changes: readonly FileChange[], previous: Manifest | undefined, answers: SetupAnswers, version: string, log: (line: string) => void): ApplyResult {
  const now = new Date().toISOString();
  const m: Manifest = previous
    ? { ...previous, updatedAt: now, answers, files: [...previous.files], dirs: [...previous.dirs] }
    : { version: MANIFEST_VERSION, xlnet: version, createdAt: now, updatedAt: now, answers, files: [], dirs: [] };
  m.xlnet = version;
  const backups: string[] = [];
  const root = paths.root;
  const addDirs = (created: string[]): void => {
    for (const d of created) {
      const shown = hostPath(root, d);
      if (!m.dirs.includes(shown)) m.dirs.push(shown);
    }
  };
  // The manifest is written even when a write fails half-way, so --uninstall
  // can still undo what was done.
  try {
  for (const c of changes) {
    addDirs(makeDirs(dirname(c.path)));
    let entry: ManifestFile | undefined = m.files.find((f) => f.path === c.shown);
    if (!entry) {
      entry = { path: c.shown, sha256: '' };
      if (c.before !== undefined) {
        // First time setup touches a file it did not create: keep the original.
        const backup = freeBackupPath(c.path);
        atomicWrite(backup, readFileSync(c.path), c.beforeMode ?? 0o644);
        entry.backup = hostPath(root, backup);
        backups.push(backup);
        log(`backup  ${hostPath(root, backup)}`);
      }
      m.files.push(entry);
    }
    atomicWrite(c.path, c.after, c.mode);
    entry.sha256 = sha256(c.after);
    log(`${c.before === undefined ? 'created' : 'updated'} ${c.shown}`);
  }
  } finally {
    addDirs(makeDirs(dirname(paths.manifest)));
    atomicWrite(paths.manifest, JSON.stringify(m, null, 2) + '\n', 0o644);
  }
  return { manifest: m, backups };
}

export interface UndoStep {
  path: string;
  action: 'remove' | 'restore' | 'keep-changed' | 'gone';
  detail: string;
}

/** What --uninstall would do with each file of the manifest (no changes made). */
export function planUninstall(paths: SetupPaths, m: Manifest): UndoStep[] {
  const steps: UndoStep[] = [];
  for (const f of [...m.files].reverse()) {
    const real = under(paths.root, f.path);
    const exists = existsSync(real);
    const same = exists && sha256(readFileSync(real)) === f.sha256;
    if (exists && !same) {
      steps.push({ path: f.path, action: 'keep-changed', detail: `changed since setup wrote it: left as is${f.backup ? ` (the original is still in ${f.backup})` : ''}` });
    } else if (f.backup && existsSync(under(paths.root, f.backup))) {
      steps.push({ path: f.path, action: 'restore', detail: `restore the original from ${f.backup}` });
    } else if (exists) {
      steps.push({ path: f.path, action: 'remove', detail: 'remove (setup created it)' });
    } else {
      steps.push({ path: f.path, action: 'gone', detail: 'already removed' });
    }
  }
  return steps;
}

export function uninstall(paths: SetupPaths, m: Manifest, log: (line: string) => void): { kept: number } {
  let kept = 0;
  const byPath = new Map(m.files.map((f) => [f.path, f]));
  for (const s of planUninstall(paths, m)) {
    const real = under(paths.root, s.path);
    const f = byPath.get(s.path)!;
    if (s.action === 'restore') { renameSync(under(paths.root, f.backup!), real); log(`restored ${s.path} from ${f.backup}`); }
    else if (s.action === 'remove') { unlinkSync(real); log(`removed  ${s.path}`); }
    else if (s.action === 'keep-changed') { kept++; log(`kept     ${s.path}: ${s.detail}`); }
  }
  unlinkSync(paths.manifest);
  log(`removed  ${hostPath(paths.root, paths.manifest)}`);
  for (const d of [...m.dirs].reverse()) {
    const real = under(paths.root, d);
    try {
      if (statSync(real).isDirectory() && readdirSync(real).length === 0) { rmdirSync(real); log(`removed  ${d}/`); }
      else log(`kept     ${d}/: not empty`);
    } catch { /* already gone */ }
  }
  return { kept };
}
