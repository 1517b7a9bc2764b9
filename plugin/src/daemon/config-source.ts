// The configuration xlnetd runs with: xlnet.conf as loaded at start, and
// reloaded on request (SIGHUP, `xlnet reload`). A reload that fails keeps the
// old configuration. Attachments keep the profile they were attached with
// until changed: a reload only changes what new attachments and `set` get.
import { existsSync } from 'node:fs';
import { loadXlnetConf, type XlnetConfig } from '../config/index.js';
import type { Logger } from './log.js';

export class ConfigSource {
  current: XlnetConfig;

  constructor(readonly file: string) {
    this.current = loadXlnetConf(file);
  }

  /** Re-reads the file; throws (keeping the old configuration) when it is invalid or gone. */
  reload(log: Logger): { profiles: string[] } {
    // At start a missing file means the built-in defaults; a running daemon
    // never swaps its configuration for them because the file went away.
    if (!existsSync(this.file)) throw new Error(`${this.file} does not exist (the running configuration is kept)`);
    const cfg = loadXlnetConf(this.file);
    this.current = cfg;
    log.level = cfg.daemon.log_level;
    log.info(`configuration reloaded from ${cfg.source}`);
    return { profiles: [...cfg.profiles.keys()] };
  }
}
