// xlnet.conf: reading, validating and querying the service configuration
// (/etc/xen/xlnet.conf). Unknown sections and keys are errors, so a typo can
// never silently leave a guest unsplit or split with the wrong profile.
import { readFileSync } from 'node:fs';
import { ConfigError, ValueError, type ConfigErrorCode } from './config-error.js';
import { globMatches, isGlob } from './domain-glob.js';
import { scanIni, type IniSection } from './ini-lines.js';
import {
  NAME_RE,
  RESERVED_PROFILE_NAMES,
  SECTION_KINDS,
  isBooleanWord,
  keySpec,
  keysOf,
  type DaemonSettings,
  type Defaults,
  type DomainRule,
  type KeySpec,
  type Profile,
  type ProfileSettings,
  type SectionKind,
} from './schema.js';
import { didYouMean } from './suggest.js';
import { parseLocalackValue, parseValue, type SettingValue } from './values.js';

export const DEFAULT_CONF_PATH = '/etc/xen/xlnet.conf';
export const DEFAULT_PROFILE = 'default';

export interface XlnetConfig {
  daemon: DaemonSettings;
  defaults: Defaults;
  /** Always holds `default`; insertion order = file order after it. */
  profiles: Map<string, Profile>;
  /** In file order. */
  domains: DomainRule[];
  /** Where the settings came from, for messages: the file, or a note that it was missing. */
  source: string;
  /** The path that was (or would have been) read. */
  file: string;
  /** false when `file` did not exist and built-in defaults are in use. */
  found: boolean;
}

export interface LocalackResolution {
  enabled: boolean;
  /** Fail the vif's hotplug when the service cannot attach. */
  required: boolean;
  profile?: string;
}

type RawSettings = Record<string, SettingValue>;

function schemaDefaults(section: SectionKind): RawSettings {
  const out: RawSettings = {};
  for (const spec of keysOf(section)) out[spec.key] = parseValue(spec, spec.default);
  return out;
}

// The one place where the table-driven records meet their derived types:
// schemaDefaults() and parseValue() produce exactly the keys and value types
// that SettingsOf<> derives from the same table.
const asDaemon = (r: RawSettings): DaemonSettings => r as unknown as DaemonSettings;
const asDefaults = (r: RawSettings): Defaults => r as unknown as Defaults;
const asProfile = (name: string, r: RawSettings): Profile => ({ name, ...(r as unknown as ProfileSettings) });

/** The built-in `default` profile: every key at its schema default. */
export function builtinProfile(): Profile {
  return asProfile(DEFAULT_PROFILE, schemaDefaults('profile'));
}

/** The configuration used when there is no xlnet.conf. */
export function builtinConfig(file = DEFAULT_CONF_PATH, source = 'built-in defaults'): XlnetConfig {
  return {
    daemon: asDaemon(schemaDefaults('daemon')),
    defaults: asDefaults(schemaDefaults('defaults')),
    profiles: new Map([[DEFAULT_PROFILE, builtinProfile()]]),
    domains: [],
    source,
    file,
    found: false,
  };
}

export interface XlnetConfCheck {
  /** Present when there were no errors. */
  config?: XlnetConfig;
  /** Every problem found, in line order. */
  errors: ConfigError[];
}

/** Validates the whole file and reports every problem (for `xlnet check` and the wizard). */
export function checkXlnetConf(text: string, file: string): XlnetConfCheck {
  const errors: ConfigError[] = [];
  const fail = (code: ConfigErrorCode, e: Omit<ConstructorParameters<typeof ConfigError>[0], 'code' | 'file'>): void => {
    errors.push(new ConfigError({ code, file, ...e }));
  };

  const scan = scanIni(text);
  for (const p of scan.problems) fail(p.code, { line: p.line, value: p.text, problem: p.problem });

  const daemon = schemaDefaults('daemon');
  const defaults = schemaDefaults('defaults');
  const profileOverrides = new Map<string, RawSettings>();
  const domainSections: { rule: RawSettings; pattern: string; line: number; keyLines: Map<string, number> }[] = [];
  const seenSections = new Map<string, number>();
  let defaultsProfileLine: number | undefined;

  for (const sec of scan.sections) {
    const parsed = parseHeader(sec, fail);
    if (!parsed) continue;
    const { kind, name } = parsed;
    const id = name === undefined ? kind : `${kind} ${name}`;
    const first = seenSections.get(id);
    if (first !== undefined) {
      fail('E_DUPLICATE', { line: sec.line, section: id, problem: `section already defined at line ${first}`, allowed: 'each section once; merge the two' });
      continue;
    }
    seenSections.set(id, sec.line);

    const values = readEntries(sec, kind, id, fail);
    if (kind === 'daemon') Object.assign(daemon, values.settings);
    else if (kind === 'defaults') {
      Object.assign(defaults, values.settings);
      defaultsProfileLine = values.keyLines.get('profile');
    } else if (kind === 'profile') profileOverrides.set(name ?? '', values.settings);
    else domainSections.push({ rule: values.settings, pattern: name ?? '', line: sec.line, keyLines: values.keyLines });
  }

  // `default` first (built in, possibly overridden); every other profile
  // starts from it, so a site-wide change (say exclude_ports) reaches all.
  const base = { ...schemaDefaults('profile'), ...(profileOverrides.get(DEFAULT_PROFILE) ?? {}) };
  const profiles = new Map<string, Profile>([[DEFAULT_PROFILE, asProfile(DEFAULT_PROFILE, base)]]);
  for (const [name, over] of profileOverrides) {
    if (name !== DEFAULT_PROFILE) profiles.set(name, asProfile(name, { ...base, ...over }));
  }
  const known = [...profiles.keys()];

  const defaultsProfile = defaults.profile as string;
  if (!profiles.has(defaultsProfile)) {
    fail('E_UNKNOWN_PROFILE', {
      line: defaultsProfileLine, section: 'defaults', key: 'profile', value: defaultsProfile,
      problem: `no [profile ${defaultsProfile}] section${didYouMean(defaultsProfile, known)}`,
      allowed: known.join(', '),
    });
  }

  const domains: DomainRule[] = [];
  for (const d of domainSections) {
    const rule = { ...schemaDefaults('domain'), ...d.rule };
    const localack = rule.localack as string;
    if (!RESERVED_PROFILE_NAMES.includes(localack) && !profiles.has(localack)) {
      fail('E_UNKNOWN_PROFILE', {
        line: d.keyLines.get('localack') ?? d.line, section: `domain ${d.pattern}`, key: 'localack', value: localack,
        problem: `no [profile ${localack}] section${didYouMean(localack, known)}`,
        allowed: `0, 1, required or a profile: ${known.join(', ')}`,
      });
    }
    domains.push({ pattern: d.pattern, localack, vifs: rule.vifs as DomainRule['vifs'], line: d.line });
  }

  errors.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  if (errors.length) return { errors };
  return {
    errors,
    config: {
      daemon: asDaemon(daemon),
      defaults: asDefaults(defaults),
      profiles,
      domains,
      source: file,
      file,
      found: true,
    },
  };
}

type Fail = (code: ConfigErrorCode, e: Omit<ConstructorParameters<typeof ConfigError>[0], 'code' | 'file'>) => void;

function parseHeader(sec: IniSection, fail: Fail): { kind: SectionKind; name?: string } | undefined {
  const words = sec.header.split(/\s+/).filter((w) => w !== '');
  const kind = SECTION_KINDS.find((k) => k === words[0]);
  if (!kind) {
    fail('E_UNKNOWN_SECTION', {
      line: sec.line, section: sec.header,
      problem: `unknown section${didYouMean(words[0] ?? '', SECTION_KINDS)}`,
      allowed: '[daemon], [defaults], [profile NAME], [domain NAME]',
    });
    return undefined;
  }
  const name = words.slice(1).join(' ');
  if (kind === 'daemon' || kind === 'defaults') {
    if (name !== '') {
      fail('E_BAD_SECTION_NAME', { line: sec.line, section: sec.header, problem: `[${kind}] takes no name`, allowed: `[${kind}]` });
      return undefined;
    }
    return { kind };
  }
  if (kind === 'profile') {
    if (!NAME_RE.test(name) || RESERVED_PROFILE_NAMES.includes(name) || isBooleanWord(name)) {
      fail('E_BAD_SECTION_NAME', {
        line: sec.line, section: sec.header,
        problem: name === '' ? 'profile without a name' : `bad profile name \`${name}'`,
        allowed: '[profile NAME], NAME of 1-32 characters A-Z a-z 0-9 _ -, not 0, 1, required or yes/no/true/false/on/off/y/n',
      });
      return undefined;
    }
    return { kind, name };
  }
  if (words.length !== 2) {
    fail('E_BAD_SECTION_NAME', {
      line: sec.line, section: sec.header,
      problem: name === '' ? 'domain without a name' : 'a domain name cannot contain spaces',
      allowed: '[domain NAME], NAME an xl domain name or a glob such as web-*',
    });
    return undefined;
  }
  return { kind, name };
}

function readEntries(
  sec: IniSection,
  kind: SectionKind,
  id: string,
  fail: Fail,
): { settings: RawSettings; keyLines: Map<string, number> } {
  const settings: RawSettings = {};
  const keyLines = new Map<string, number>();
  const keyNames = keysOf(kind).map((k) => k.key);
  for (const e of sec.entries) {
    const spec: KeySpec | undefined = keySpec(kind, e.key);
    if (!spec) {
      fail('E_UNKNOWN_KEY', {
        line: e.line, section: id, key: e.key, value: e.value,
        problem: `unknown key${didYouMean(e.key, keyNames)}`,
        allowed: keyNames.join(', '),
      });
      continue;
    }
    const first = keyLines.get(e.key);
    if (first !== undefined) {
      fail('E_DUPLICATE', {
        line: e.line, section: id, key: e.key, value: e.value,
        problem: `already set at line ${first}`, allowed: 'each key once per section',
      });
      continue;
    }
    keyLines.set(e.key, e.line);
    try {
      settings[e.key] = parseValue(spec, e.value);
    } catch (err) {
      if (!(err instanceof ValueError)) throw err;
      fail('E_BAD_VALUE', { line: e.line, section: id, key: e.key, value: e.value, problem: err.problem, allowed: spec.allowed });
    }
  }
  return { settings, keyLines };
}

/** Parses xlnet.conf text; throws the first ConfigError (in line order). */
export function parseXlnetConf(text: string, file: string): XlnetConfig {
  const r = checkXlnetConf(text, file);
  if (!r.config) throw r.errors[0];
  return r.config;
}

/**
 * Reads and parses xlnet.conf. A missing file means built-in defaults (the
 * source says so); a file that exists but cannot be read is an error, never
 * silently the defaults.
 */
export function loadXlnetConf(file = DEFAULT_CONF_PATH): XlnetConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return builtinConfig(file, `built-in defaults (${file} does not exist)`);
    throw new ConfigError({
      code: 'E_READ', file,
      problem: `cannot read: ${(err as Error).message}`,
      allowed: 'a readable file (root-owned, mode 0644), or no file for built-in defaults',
    });
  }
  return parseXlnetConf(text, file);
}

/** Where a localack value came from, for error messages. */
export interface ValueOrigin {
  file?: string;
  line?: number;
  section?: string;
  key?: string;
}

/**
 * What a localack value means under this configuration:
 * `0` off; `1` on with [defaults] profile; `required` on, and the hotplug
 * fails if the service cannot attach; a profile name: on with that profile.
 */
export function resolveLocalack(value: string, cfg: XlnetConfig, origin: ValueOrigin = {}): LocalackResolution {
  const where = { file: origin.file ?? cfg.source, line: origin.line, section: origin.section, key: origin.key ?? 'localack', value };
  const known = [...cfg.profiles.keys()];
  try {
    parseLocalackValue(value);
  } catch (err) {
    if (!(err instanceof ValueError)) throw err;
    throw new ConfigError({ code: 'E_BAD_VALUE', ...where, problem: err.problem, allowed: `0, 1, required or a profile: ${known.join(', ')}` });
  }
  if (value === '0') return { enabled: false, required: false };
  if (value === '1') return { enabled: true, required: cfg.defaults.required, profile: cfg.defaults.profile };
  if (value === 'required') return { enabled: true, required: true, profile: cfg.defaults.profile };
  if (!cfg.profiles.has(value)) {
    throw new ConfigError({
      code: 'E_UNKNOWN_PROFILE', ...where,
      problem: `no profile named ${value}${didYouMean(value, known)}`,
      allowed: `0, 1, required or a profile: ${known.join(', ')}`,
    });
  }
  return { enabled: true, required: cfg.defaults.required, profile: value };
}

/**
 * The [domain] rule that decides for this domain: the section naming it
 * exactly, else the first glob (in file order) that matches. That rule alone
 * decides; `undefined` when it does not list this devid.
 */
export function domainRuleFor(cfg: XlnetConfig, domainName: string, devid: number): DomainRule | undefined {
  const rule = domainRuleForName(cfg, domainName);
  if (!rule) return undefined;
  return rule.vifs === 'all' || rule.vifs.includes(devid) ? rule : undefined;
}

export function domainRuleForName(cfg: XlnetConfig, domainName: string): DomainRule | undefined {
  return (
    cfg.domains.find((r) => !isGlob(r.pattern) && r.pattern === domainName) ??
    cfg.domains.find((r) => isGlob(r.pattern) && globMatches(r.pattern, domainName))
  );
}
