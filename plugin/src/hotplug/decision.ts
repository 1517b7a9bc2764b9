// Whether a vif gets local acknowledgement, as a pure function of what the
// hotplug path can see: the backend's `localack` key, the vif's hotplug
// script, the domain's name and xlnet.conf. `xlnet check` (config/vif-spec.ts
// checkVif) answers the same question from a guest config before the guest
// exists; both must agree, and a test holds them to it.
//
// Order (first that applies decides):
//   1. backend key `localack` (written by the patched libxl): 0|1|required|PROFILE
//   2. script vif-localack / vif-localack-route: on; a [domain] rule covering
//      this vif may pick the profile or `required` (its `0` cannot turn the
//      script off)
//   3. a [domain NAME] rule covering this vif (`vifs`)
//   4. otherwise off
import { ConfigError, domainRuleFor, domainRuleForName, resolveLocalack, type XlnetConfig } from '../config/index.js';

/** Script names that ask for the service (the -route one runs vif-route). */
export const LOCALACK_SCRIPTS: readonly string[] = ['vif-localack', 'vif-localack-route'];

export type Activation = 'localack-key' | 'script' | 'domain-rule' | 'none';

export interface VifFacts {
  devid: number;
  /** The backend's `localack` key, if present. */
  localack?: string;
  /** The vif's hotplug script (path or name). */
  script?: string;
  /** /local/domain/<domid>/name, if known. */
  domainName?: string;
}

export interface HotplugDecision {
  activation: Activation;
  enabled: boolean;
  /** Fail the hotplug when the service cannot attach. */
  required: boolean;
  profile?: string;
  /** Why, in a few words, for the log: "backend localack=required". */
  why: string;
  /** The vif asks for the service but the request cannot be honoured as
   * given (unknown profile, unreadable xlnet.conf). Set only when enabled. */
  problem?: string;
  warnings: string[];
}

export function isLocalackScript(script: string | undefined): boolean {
  if (script === undefined) return false;
  return LOCALACK_SCRIPTS.includes(script.slice(script.lastIndexOf('/') + 1));
}

/**
 * Decides for one vif. `cfg` is the loaded xlnet.conf, or the ConfigError
 * that loading it gave: then only the backend key and the script can turn
 * the service on, and they do so with a `problem` (nothing is attached with
 * a configuration nobody can read).
 */
export function decideLocalack(facts: VifFacts, cfg: XlnetConfig | ConfigError): HotplugDecision {
  const warnings: string[] = [];
  const viaScript = isLocalackScript(facts.script);

  if (cfg instanceof ConfigError) {
    const problem = `xlnet.conf is invalid: ${cfg.message}`;
    if (facts.localack !== undefined) {
      if (facts.localack === '0') return off('localack-key', 'backend localack=0', warnings);
      return {
        activation: 'localack-key', enabled: true, required: facts.localack === 'required',
        why: `backend localack=${facts.localack}`, problem, warnings,
      };
    }
    if (viaScript) {
      return { activation: 'script', enabled: true, required: false, why: `script ${scriptName(facts.script)}`, problem, warnings };
    }
    warnings.push(`${problem}; [domain] rules are not applied`);
    return off('none', 'no localack key, script or readable [domain] rule', warnings);
  }

  const rule = facts.domainName === undefined ? undefined : domainRuleFor(cfg, facts.domainName, facts.devid);
  const ruleOrigin = { file: cfg.source, line: rule?.line, section: `domain ${rule?.pattern}`, key: 'localack' };

  if (facts.localack !== undefined) {
    return resolved('localack-key', `backend localack=${facts.localack}`, facts.localack, cfg, { file: 'the vif backend', key: 'localack' }, warnings);
  }
  if (viaScript) {
    const why = `script ${scriptName(facts.script)}`;
    if (rule && rule.localack === '0') {
      warnings.push(`script ${scriptName(facts.script)} turns xlnet on although [domain ${rule.pattern}] says localack = 0; the script wins`);
    }
    if (rule && rule.localack !== '0') {
      return resolved('script', `${why} with [domain ${rule.pattern}] localack = ${rule.localack}`, rule.localack, cfg, ruleOrigin, warnings);
    }
    return resolved('script', why, '1', cfg, { file: cfg.source }, warnings);
  }
  if (rule) {
    return resolved('domain-rule', `[domain ${rule.pattern}] localack = ${rule.localack}`, rule.localack, cfg, ruleOrigin, warnings);
  }
  if (facts.domainName !== undefined) {
    const other = domainRuleForName(cfg, facts.domainName);
    if (other) warnings.push(`[domain ${other.pattern}] matches this domain but not devid ${facts.devid} (vifs = ${String(other.vifs)})`);
  }
  return off('none', facts.domainName === undefined ? 'no localack key or script, and the domain has no name in xenstore' : 'no localack key, script or [domain] rule', warnings);
}

function scriptName(script: string | undefined): string {
  return (script ?? '').slice((script ?? '').lastIndexOf('/') + 1);
}

function off(activation: Activation, why: string, warnings: string[]): HotplugDecision {
  return { activation, enabled: false, required: false, why, warnings };
}

function resolved(
  activation: Activation,
  why: string,
  value: string,
  cfg: XlnetConfig,
  origin: Parameters<typeof resolveLocalack>[2],
  warnings: string[],
): HotplugDecision {
  try {
    const r = resolveLocalack(value, cfg, origin);
    const d: HotplugDecision = { activation, enabled: r.enabled, required: r.required, why, warnings };
    if (r.profile !== undefined) d.profile = r.profile;
    return d;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // Asked for, but not as anything we can serve: the vif runs unsplit,
    // or fails if it (or the site default) says required.
    return {
      activation, enabled: true, required: value === 'required' || cfg.defaults.required, why,
      problem: err.message, warnings,
    };
  }
}
