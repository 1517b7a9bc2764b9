// ConfigError: the one error type of the config module. Every instance says
// where (file, line, section, key), what was wrong (the value) and what is
// allowed, in one line a user can act on:
//   /etc/xen/xlnet.conf:12: [profile sat] buffer = 12q: not a size (allowed: ...)

export type ConfigErrorCode =
  | 'E_READ' //            the file exists but cannot be read
  | 'E_SYNTAX' //          a line that is neither `[section]` nor `key = value`
  | 'E_NO_SECTION' //      a key before the first [section]
  | 'E_UNKNOWN_SECTION' // [foo] where foo is not daemon|defaults|profile|domain
  | 'E_BAD_SECTION_NAME' // [profile bad!name], [domain], [daemon extra]
  | 'E_UNKNOWN_KEY' //     a key the section does not have (typos must not pass)
  | 'E_BAD_VALUE' //       a value outside its type or range
  | 'E_DUPLICATE' //       a section or a key given twice
  | 'E_UNKNOWN_PROFILE'; // a reference to a profile that is not defined

export interface ConfigErrorInit {
  code: ConfigErrorCode;
  file: string;
  line?: number;
  section?: string;
  key?: string;
  value?: string;
  /** What is wrong, e.g. "not a size". */
  problem: string;
  /** What would be accepted, e.g. "bytes with k, m or g suffix, 64k..1g". */
  allowed?: string;
}

export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  readonly file: string;
  readonly line?: number;
  readonly section?: string;
  readonly key?: string;
  readonly value?: string;
  readonly problem: string;
  readonly allowed?: string;

  constructor(init: ConfigErrorInit) {
    super(formatConfigError(init));
    this.name = 'ConfigError';
    this.code = init.code;
    this.file = init.file;
    this.line = init.line;
    this.section = init.section;
    this.key = init.key;
    this.value = init.value;
    this.problem = init.problem;
    this.allowed = init.allowed;
  }
}

function formatConfigError(e: ConfigErrorInit): string {
  const where = e.line !== undefined ? `${e.file}:${e.line}:` : `${e.file}:`;
  let what = '';
  if (e.section !== undefined) what += `[${e.section}]`;
  if (e.key !== undefined) {
    what += (what ? ' ' : '') + e.key;
    if (e.value !== undefined) what += ` = ${e.value}`;
  } else if (e.value !== undefined) {
    what += (what ? ' ' : '') + e.value;
  }
  const allowed = e.allowed !== undefined ? ` (allowed: ${e.allowed})` : '';
  return `${where} ${what ? `${what}: ` : ''}${e.problem}${allowed}`;
}

/**
 * Thrown by the value parsers (parseSize, parseDuration, ...) which know what
 * is wrong with a value but not where it came from; the caller wraps it into a
 * ConfigError with the location.
 */
export class ValueError extends Error {
  constructor(readonly problem: string) {
    super(problem);
    this.name = 'ValueError';
  }
}
