// What `xlnet setup` installed, so `--uninstall` can take exactly that away:
// each file with the hash it was written with and the backup of what was
// there before, and each directory setup created. Paths are as the host
// sees them (/etc/...), so the manifest stays right under any --root.
import { existsSync, readFileSync } from 'node:fs';
import { CliError } from '../cli-error.js';
import { EXIT } from '../exit-codes.js';
import type { SetupAnswers } from './answers.js';

export const MANIFEST_VERSION = 1;

export interface ManifestFile {
  path: string;
  sha256: string;
  /** Where the file that was there before setup is kept (restored by --uninstall). */
  backup?: string;
}

export interface Manifest {
  version: number;
  xlnet: string;
  createdAt: string;
  updatedAt: string;
  answers: SetupAnswers;
  files: ManifestFile[];
  /** Directories setup created, outermost first; removed when empty. */
  dirs: string[];
}

export function readManifest(file: string): Manifest | undefined {
  if (!existsSync(file)) return undefined;
  let m: Manifest;
  try {
    m = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
  } catch (e) {
    throw new CliError(EXIT.FAILED, `setup: cannot read its manifest ${file}: ${(e as Error).message}`,
      'it records what setup installed; restore it from a backup or remove it (then setup forgets what it installed)');
  }
  if (m.version !== MANIFEST_VERSION || !Array.isArray(m.files) || !Array.isArray(m.dirs)) {
    throw new CliError(EXIT.FAILED, `setup: ${file} is not a manifest this xlnet understands (version ${String(m.version)})`,
      'use the xlnet version that wrote it for --uninstall');
  }
  return m;
}
