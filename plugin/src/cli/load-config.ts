// Reading xlnet.conf for a verb: every error with file:line, and a missing
// file said plainly (xlnetd then runs on built-in defaults).
import { existsSync, readFileSync } from 'node:fs';
import { builtinConfig, checkXlnetConf, type ConfigError, type XlnetConfig } from '../config/index.js';
import { CliError } from './cli-error.js';
import { EXIT } from './exit-codes.js';

export interface LoadedConfig {
  config?: XlnetConfig;
  errors: ConfigError[];
  /** false: no file, built-in defaults. */
  found: boolean;
}

export function readConfig(file: string): LoadedConfig {
  if (!existsSync(file)) return { config: builtinConfig(file, `built-in defaults (${file} does not exist)`), errors: [], found: false };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError(EXIT.FAILED, `cannot read ${file}: ${(e as Error).message}`, 'xlnet.conf must be readable (root-owned, mode 0644)');
  }
  const r = checkXlnetConf(text, file);
  return { config: r.config, errors: r.errors, found: true };
}

/** The configuration, or a CliError listing every problem in it. */
export function requireConfig(file: string, what: string): XlnetConfig {
  const r = readConfig(file);
  if (r.config) return r.config;
  throw new CliError(
    EXIT.FAILED,
    `${what}: ${file} has ${r.errors.length} error${r.errors.length > 1 ? 's' : ''}:\n${r.errors.map((e) => `  ${e.message}`).join('\n')}`,
    'fix them (xlnet config check shows them again), or point at another file with --config FILE',
  );
}
