// The state store: what xlnetd keeps in its state directory (/run/xlnet by
// default) so a restart re-attaches what was attached. /run is emptied at
// boot, so a reboot starts clean; a restart of the daemon alone does not.
// Written atomically (temporary file, rename): a crash mid-write leaves the
// previous state, never half of one.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Options } from './protocol.js';
import type { Logger } from './log.js';

/** `id`: the attachment id, kept across a restart (the steering's sets and marks carry it). */
export interface SavedAttachment { vif: string; id?: number; profile: string; options: Options; domain?: string; required: boolean }

export class StateStore {
  constructor(readonly dir: string, private readonly log: Logger) {}

  private get path(): string { return join(this.dir, 'attachments.json'); }

  saveAttachments(list: SavedAttachment[]): void {
    mkdirSync(this.dir, { recursive: true });
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(list, null, 1));
    renameSync(tmp, this.path);
  }

  /** The attachments saved by the previous run; undefined when there is no state, or
   * when it is unreadable (logged, and left as it is for someone to look at). */
  loadAttachments(): SavedAttachment[] | undefined {
    if (!existsSync(this.path)) return undefined;
    try { return JSON.parse(readFileSync(this.path, 'utf8')) as SavedAttachment[]; } catch (e) {
      this.log.warn(`ignoring unreadable state ${this.path}: ${(e as Error).message}`);
      return undefined;
    }
  }
}
