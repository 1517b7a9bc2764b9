// The answers `xlnet setup` needs, where each can come from: a flag, the
// wizard, or (with --yes / --dry-run) a default taken from the current state
// of the host (the last setup's manifest, the current xlnet.conf).
import { PROFILE_PRESETS, type XlnetConfig } from '../../config/index.js';
import { usageError } from '../cli-error.js';
import type { Values } from '../verb.js';
import type { DomainConfigFile } from '../xen-host.js';
import type { HostFacts } from './host-checks.js';
import type { Manifest } from './manifest.js';
import { METHODS, type Method } from './methods.js';

export type Mode = 'bridge' | 'route';

export interface SetupAnswers {
  mode: Mode;
  /** Bridges the guests' vifs are on (bridge mode). */
  bridges: string[];
  /** [defaults] profile: `default` or a preset / existing profile. */
  profile: string;
  /** Domain names that get the service. */
  domains: string[];
  method: Method;
  /** Rewrite the chosen domains' vif lines (script and xl methods). */
  rewriteConfigs: boolean;
}

export type PartialAnswers = Partial<SetupAnswers>;

const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;
const DOMAIN_RE = /^[A-Za-z0-9_.*?-]{1,64}$/;

/** The answers given as flags; anything wrong is a usage error. */
export function answersFromFlags(v: Values): PartialAnswers {
  const a: PartialAnswers = {};
  if (v.mode !== undefined) a.mode = v.mode as Mode;
  if (v.bridge !== undefined) {
    a.bridges = [...new Set(v.bridge as string[])];
    for (const b of a.bridges) if (!IFNAME_RE.test(b)) throw usageError(`xlnet setup: --bridge ${b}: not an interface name`, 'setup');
  }
  if (v.profile !== undefined) a.profile = v.profile as string;
  if (v.domain !== undefined) {
    const d = v.domain as string[];
    a.domains = d.length === 1 && d[0] === 'none' ? [] : [...new Set(d)];
    for (const n of a.domains) if (!DOMAIN_RE.test(n)) throw usageError(`xlnet setup: --domain ${n}: not a domain name`, 'setup');
  }
  if (v.method !== undefined) a.method = v.method as Method;
  if (v['rewrite-configs'] && v['keep-configs']) throw usageError('xlnet setup: --rewrite-configs and --keep-configs exclude each other', 'setup');
  if (v['rewrite-configs']) a.rewriteConfigs = true;
  if (v['keep-configs']) a.rewriteConfigs = false;
  return a;
}

export function profileChoices(current: XlnetConfig | undefined): string[] {
  return [...new Set(['default', ...PROFILE_PRESETS.map((p) => p.name), ...(current ? current.profiles.keys() : [])])];
}

/** Defaults for what was not answered: the last setup's answers, else what the host suggests. */
export function defaultAnswers(facts: HostFacts, manifest: Manifest | undefined, current: XlnetConfig | undefined): SetupAnswers {
  const last = manifest?.answers;
  const method: Method = last?.method ?? (facts.xl.patched ? 'xl' : 'hook');
  const bridgeGuess = facts.xlDefaults.bridge && facts.bridges.includes(facts.xlDefaults.bridge)
    ? [facts.xlDefaults.bridge] : facts.bridges.length ? facts.bridges : ['xenbr0'];
  const ruled = current?.domains.filter((d) => !/[*?]/.test(d.pattern) && d.localack !== '0').map((d) => d.pattern) ?? [];
  return {
    mode: last?.mode ?? 'bridge',
    bridges: last?.bridges ?? bridgeGuess,
    profile: current?.found ? current.defaults.profile : last?.profile ?? 'default',
    domains: last?.domains ?? ruled,
    method,
    rewriteConfigs: last?.rewriteConfigs ?? method !== 'hook',
  };
}

/** Checks answers against what exists; usage errors say what is allowed. */
export function validateAnswers(a: SetupAnswers, current: XlnetConfig | undefined, domains: readonly DomainConfigFile[]): void {
  const profiles = profileChoices(current);
  if (!profiles.includes(a.profile)) {
    throw usageError(`xlnet setup: --profile ${a.profile}: no such profile (there are: ${profiles.join(', ')})`, 'setup');
  }
  if (!METHODS.includes(a.method)) throw usageError(`xlnet setup: --method ${a.method}: not one of ${METHODS.join(', ')}`, 'setup');
  if (a.mode === 'bridge' && a.bridges.length === 0) throw usageError('xlnet setup: bridge mode needs at least one --bridge NAME', 'setup');
  if (a.method !== 'hook' && a.rewriteConfigs) {
    const known = new Set(domains.map((d) => d.name).filter((n): n is string => n !== undefined));
    const missing = a.domains.filter((d) => !known.has(d));
    if (missing.length) {
      throw usageError(
        `xlnet setup: --domain ${missing.join(', ')}: no config naming ${missing.length > 1 ? 'them' : 'it'} in the domain config directory ` +
          `(found: ${[...known].join(', ') || 'none'}); with --method ${a.method} setup edits the domain's config`,
        'setup',
      );
    }
  }
}

export function describeAnswers(a: SetupAnswers): string {
  const where = a.mode === 'bridge' ? `bridge mode on ${a.bridges.join(', ')}` : 'route mode';
  const how = { hook: 'the vif-post.d hook + [domain] sections', script: 'script=vif-localack in the vif lines', xl: 'localack=1 in the vif lines (patched xl)' }[a.method];
  return [
    `  vifs:       ${where}`,
    `  profile:    ${a.profile}`,
    `  domains:    ${a.domains.length ? a.domains.join(', ') : 'none'}`,
    `  turned on:  by ${how}`,
    ...(a.method === 'hook' ? [] : [`  configs:    ${a.rewriteConfigs ? 'rewrite the vif lines (backups kept)' : 'left as they are (edit the vif lines yourself)'}`]),
  ].join('\n') + '\n';
}
