// Writes a configuration back as commented ini that parseXlnetConf reads to
// the same settings (the setup wizard saves with this; templates/xlnet.conf
// is renderTemplate()'s output, checked by a test so the two cannot drift).
import ini from 'ini';
import { PROFILE_PRESETS, type ProfilePreset } from './presets.js';
import {
  keysOf,
  type DaemonSettings,
  type Defaults,
  type DomainRule,
  type KeySpec,
  type Profile,
  type ProfileSettings,
  type SectionKind,
} from './schema.js';
import { parseValue, formatValue, type SettingValue } from './values.js';
import { DEFAULT_PROFILE, builtinConfig, builtinProfile, type XlnetConfig } from './xlnet-conf.js';

/** What the wizard may hand in: anything left out takes its default. */
export interface PartialXlnetConfig {
  daemon?: Partial<DaemonSettings>;
  defaults?: Partial<Defaults>;
  /** name -> settings; a profile other than `default` inherits the rest from `default`. */
  profiles?: ReadonlyMap<string, Partial<ProfileSettings>>;
  domains?: readonly DomainRule[];
}

export interface RenderOptions {
  /** Doc comments above every key (default true). */
  comments?: boolean;
  /** Lines for the file's opening comment block. */
  header?: readonly string[];
  /** Reasons to print for profiles named like a preset (default: PROFILE_PRESETS). */
  presets?: readonly ProfilePreset[];
}

type Lookup = Readonly<Record<string, SettingValue | undefined>>;

function asLookup(o: object): Lookup {
  return o as Lookup;
}

/** Fills in defaults and inheritance, giving the same shape parseXlnetConf returns. */
export function completeConfig(cfg: XlnetConfig | PartialXlnetConfig): XlnetConfig {
  const b = builtinConfig();
  const daemon = { ...b.daemon, ...(cfg.daemon ?? {}) };
  const defaults = { ...b.defaults, ...(cfg.defaults ?? {}) };
  const { name: _name, ...builtin } = builtinProfile();
  const base: ProfileSettings = { ...builtin, ...stripName(cfg.profiles?.get(DEFAULT_PROFILE)) };
  const profiles = new Map<string, Profile>([[DEFAULT_PROFILE, { name: DEFAULT_PROFILE, ...base }]]);
  for (const [name, p] of cfg.profiles ?? []) {
    if (name !== DEFAULT_PROFILE) profiles.set(name, { ...base, ...stripName(p), name });
  }
  const source = 'source' in cfg ? cfg.source : 'rendered';
  return { daemon, defaults, profiles, domains: [...(cfg.domains ?? [])], source, file: source, found: true };
}

function stripName(p: Partial<ProfileSettings> & { name?: string } | undefined): Partial<ProfileSettings> {
  if (!p) return {};
  const { name: _name, ...rest } = p;
  return rest;
}

export function renderXlnetConf(input: XlnetConfig | PartialXlnetConfig, opts: RenderOptions = {}): string {
  const cfg = completeConfig(input);
  const comments = opts.comments ?? true;
  const presets = opts.presets ?? PROFILE_PRESETS;
  const out: string[] = [];
  const comment = (text: string): void => {
    if (comments) out.push(text === '' ? '#' : `# ${text}`);
  };
  for (const h of opts.header ?? []) out.push(h === '' ? '#' : `# ${h}`);
  if (opts.header?.length) out.push('');

  const keyLines = (
    section: SectionKind,
    values: Lookup,
    only?: (spec: KeySpec) => boolean,
    notes?: Lookup,
    preferred?: Readonly<Record<string, string | undefined>>,
  ): void => {
    for (const spec of keysOf(section)) {
      if (only && !only(spec)) continue;
      const v = values[spec.key];
      if (v === undefined) continue;
      const note = notes?.[spec.key];
      if (typeof note === 'string') comment(note);
      else {
        comment(spec.doc);
        comment(`allowed: ${spec.allowed}; default: ${spec.default === '' ? '(empty)' : spec.default}`);
      }
      out.push(`${spec.key} = ${ini.safe(valueText(spec, v, preferred?.[spec.key]))}`.trimEnd());
    }
  };

  out.push('[daemon]');
  keyLines('daemon', asLookup(cfg.daemon));
  out.push('', '[defaults]');
  keyLines('defaults', asLookup(cfg.defaults));

  const baseLookup = asLookup(cfg.profiles.get(DEFAULT_PROFILE) ?? builtinProfile());
  out.push('');
  comment('The built-in profile. Every other profile starts from it and changes only the keys it lists.');
  out.push(`[profile ${DEFAULT_PROFILE}]`);
  keyLines('profile', baseLookup);

  for (const [name, p] of cfg.profiles) {
    if (name === DEFAULT_PROFILE) continue;
    const preset = presets.find((x) => x.name === name);
    out.push('');
    if (preset) {
      comment(`${preset.summary}.`);
      for (const w of preset.why) comment(w);
    }
    out.push(`[profile ${name}]`);
    const pl = asLookup(p);
    // A profile lists what differs from `default`, plus what its preset
    // spells out on purpose (satellite says wan_cc = bbr, with the reason).
    const fromPreset = (spec: KeySpec): boolean => {
      const raw = preset?.settings[spec.key as keyof ProfileSettings];
      const v = pl[spec.key];
      return raw !== undefined && v !== undefined && formatValue(spec, parseValue(spec, raw)) === formatValue(spec, v);
    };
    const shown = (spec: KeySpec): boolean => fromPreset(spec) || !sameValue(spec, pl[spec.key], baseLookup[spec.key]);
    const notes: Record<string, string> = {};
    for (const spec of keysOf('profile')) {
      const note = preset?.notes[spec.key as keyof ProfileSettings];
      if (note !== undefined && fromPreset(spec)) notes[spec.key] = note;
    }
    keyLines('profile', pl, shown, notes, preset?.settings);
  }

  for (const d of cfg.domains) {
    out.push('', `[domain ${d.pattern}]`);
    keyLines('domain', { localack: d.localack, vifs: d.vifs });
  }
  return out.join('\n') + '\n';
}

/**
 * The text for a value: the way the preset or the schema default writes it
 * when that means the same (`60s` stays `60s`), else the canonical form.
 */
function valueText(spec: KeySpec, v: SettingValue, preferred: string | undefined): string {
  const canonical = formatValue(spec, v);
  for (const text of [preferred, spec.default]) {
    if (text !== undefined && formatValue(spec, parseValue(spec, text)) === canonical) return text;
  }
  return canonical;
}

function sameValue(spec: KeySpec, a: SettingValue | undefined, b: SettingValue | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return formatValue(spec, a) === formatValue(spec, b);
}

const TEMPLATE_HEADER = [
  'xlnet.conf - local acknowledgement (split TCP) for Xen guests, from Dom0.',
  '',
  'Generated from the schema in plugin/src/config/schema.ts; every key is shown',
  'with its default. Unknown sections or keys are errors, not ignored.',
  '',
  'Turning the service on for a vif, by any one of:',
  '  vif = [ \'bridge=xenbr0,localack=1\' ]          with a patched xl (localack=0|1|required|PROFILE)',
  '  vif = [ \'bridge=xenbr0,script=vif-localack\' ] with stock xl',
  '  a [domain NAME] section below                   with stock xl, no change to the guest config',
  'Check a guest config with: xlnet check /etc/xen/GUEST.cfg',
  '',
  '[domain NAME] sections: NAME is an xl domain name or a glob (web-*, db-?).',
  'The section naming the domain exactly decides; otherwise the first matching',
  'glob in file order. Example:',
  '  [domain web-*]',
  '  localack = satellite',
  '  vifs = 0',
  '',
  'Sizes are bytes with k, m or g suffixes (binary: 1k = 1024); durations are',
  'seconds with s, m, h or d suffixes.',
];

/** The profiles and settings templates/xlnet.conf ships with. */
export function templateConfig(): PartialXlnetConfig {
  const profiles = new Map<string, Partial<ProfileSettings>>();
  for (const preset of PROFILE_PRESETS) profiles.set(preset.name, presetSettings(preset));
  return { profiles };
}

/** A preset's settings in typed form (the wizard adds them with this). */
export function presetSettings(preset: ProfilePreset): Partial<ProfileSettings> {
  const out: Record<string, SettingValue> = {};
  for (const spec of keysOf('profile')) {
    const raw = preset.settings[spec.key as keyof ProfileSettings];
    if (raw !== undefined) out[spec.key] = parseValue(spec, raw);
  }
  return out as Partial<ProfileSettings>;
}

/** The exact text of templates/xlnet.conf. */
export function renderTemplate(): string {
  return renderXlnetConf(templateConfig(), { header: TEMPLATE_HEADER });
}
