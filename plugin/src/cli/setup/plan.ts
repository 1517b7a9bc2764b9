// What `xlnet setup` would change: the wanted content of every file it
// manages, compared with what is there. A file already right is not in the
// plan, so a second run with the same answers plans nothing.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  presetByName,
  presetSettings,
  renderXlnetConf,
  type DomainRule,
  type PartialXlnetConfig,
  type ProfileSettings,
  type XlnetConfig,
} from '../../config/index.js';
import { packageRoot } from '../version-info.js';
import type { DomainConfigFile } from '../xen-host.js';
import type { SetupAnswers } from './answers.js';
import type { HostFacts } from './host-checks.js';
import { builtEntryPoints, renderSysctlDropin, renderUnit, renderWrapper, xlnetdCommand } from './host-files.js';
import { hostPath, under, type SetupPaths } from './paths.js';
import { rewriteDomainConfig } from './vif-rewrite.js';

export interface FileChange {
  /** Real path (under the root). */
  path: string;
  /** The path as the host sees it. */
  shown: string;
  /** Current content; undefined when the file does not exist. */
  before?: string;
  beforeMode?: number;
  after: string;
  mode: number;
  why: string;
}

export interface Plan {
  changes: FileChange[];
  /** Things the user should know (vifs left alone, files skipped). */
  notes: string[];
}

const CONF_HEADER = [
  'xlnet.conf - written by `xlnet setup`. Re-run it to change the answers; edits',
  'by hand are fine (setup leaves the file alone when its answers still hold).',
  'Check it with: xlnet config check. Check a guest with: xlnet check /etc/xen/GUEST.cfg',
  'Every key with its meaning: templates/xlnet.conf, man xlnet.',
];

function profileOverrides(p: ProfileSettings & { name?: string }): Partial<ProfileSettings> {
  const { name: _n, ...rest } = p;
  return rest;
}

/** The configuration the answers ask for, starting from the current one. */
export function wantedConfig(a: SetupAnswers, current: XlnetConfig | undefined, offeredDomains: readonly string[]): PartialXlnetConfig {
  const profiles = new Map<string, Partial<ProfileSettings>>();
  for (const [name, p] of current?.profiles ?? []) profiles.set(name, profileOverrides(p));
  const preset = presetByName(a.profile);
  if (preset && !profiles.has(a.profile)) profiles.set(a.profile, presetSettings(preset));

  let domains: DomainRule[] = [...(current?.domains ?? [])];
  if (a.method === 'hook') {
    // The hook serves a vif when a [domain] rule says so: one exact rule per
    // chosen domain; an offered domain that was not chosen loses its rule.
    domains = domains.filter((d) => !(offeredDomains.includes(d.pattern) && !a.domains.includes(d.pattern)));
    for (const name of a.domains) {
      const i = domains.findIndex((d) => d.pattern === name);
      if (i < 0) domains.push({ pattern: name, localack: '1', vifs: 'all' });
      else if (domains[i].localack === '0') domains[i] = { ...domains[i], localack: '1' };
    }
  }
  return {
    daemon: current?.daemon,
    defaults: { ...(current?.defaults ?? {}), profile: a.profile },
    profiles,
    domains: domains.map(({ line: _l, ...d }) => d),
  };
}

function readIfExists(path: string): { text?: string; mode?: number } {
  if (!existsSync(path)) return {};
  return { text: readFileSync(path, 'utf8'), mode: statSync(path).mode & 0o7777 };
}

/** Files of hotplug-scripts/ to install (docs and build files stay behind). */
export function hotplugScriptFiles(): { rel: string; src: string; mode: number }[] {
  const base = join(packageRoot(), 'hotplug-scripts');
  const out: { rel: string; src: string; mode: number }[] = [];
  const skip = (n: string): boolean => /^(readme.*|.*\.md|apt-packages\.txt|makefile|test|tests|\..*)$/i.test(n);
  const walk = (dir: string): void => {
    let names: string[];
    try { names = readdirSync(dir).sort(); } catch { return; }
    for (const n of names) {
      if (skip(n)) continue;
      const p = join(dir, n);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out.push({ rel: relative(base, p), src: p, mode: st.mode & 0o777 });
    }
  };
  walk(base);
  return out;
}

export function planSetup(
  paths: SetupPaths,
  a: SetupAnswers,
  facts: HostFacts,
  current: XlnetConfig | undefined,
  domains: readonly DomainConfigFile[],
  confHostPath: string,
): Plan {
  const changes: FileChange[] = [];
  const notes: string[] = [];
  const want = (path: string, after: string, mode: number, why: string): void => {
    const cur = readIfExists(path);
    if (cur.text === after && cur.mode === mode) return;
    changes.push({ path, shown: hostPath(paths.root, path), before: cur.text, beforeMode: cur.mode, after, mode, why });
  };

  // xlnet.conf: rewritten only when the settings differ, so comments and
  // layout of a file edited by hand survive a re-run that changes nothing.
  const offered = domains.map((d) => d.name).filter((n): n is string => n !== undefined);
  const wanted = wantedConfig(a, current, offered);
  const plain = (c: XlnetConfig | PartialXlnetConfig): string => renderXlnetConf(c, { comments: false });
  if (!(current?.found && plain(current) === plain(wanted))) {
    want(paths.conf, renderXlnetConf(wanted, { header: CONF_HEADER }), 0o644, 'the service configuration (profiles, [domain] rules)');
  }

  const scripts = hotplugScriptFiles();
  if (scripts.length === 0) notes.push(`hotplug-scripts/ in ${packageRoot()} has no scripts to install: vifs cannot reach xlnetd until it does`);
  for (const s of scripts) {
    want(join(paths.scriptsDir, s.rel), readFileSync(s.src, 'utf8'), s.mode, 'vif hotplug script: runs `xlnet hotplug` when a guest vif comes and goes');
  }

  const cmd = xlnetdCommand(paths.root);
  if (!cmd.installed) {
    want(under(paths.root, '/usr/local/sbin/xlnet'), renderWrapper(cmd.xlnet), 0o755, 'runs xlnet (the hotplug hook calls `xlnet hotplug` from PATH)');
    want(under(paths.root, '/usr/local/sbin/xlnetd'), renderWrapper(cmd.xlnetd), 0o755, 'runs xlnetd');
    const unbuilt = builtEntryPoints().filter((p) => !existsSync(p));
    if (unbuilt.length) notes.push(`${unbuilt.join(', ')} not built yet: run make build (or npm run build) before starting xlnetd`);
  }

  want(paths.sysctlDropin, renderSysctlDropin(a, facts.bridgeNetfilter), 0o644, 'kernel settings (applied at boot)');
  want(paths.unit, renderUnit(confHostPath, paths.root), 0o644, 'systemd unit of xlnetd');

  if (a.method !== 'hook' && a.rewriteConfigs) {
    for (const name of a.domains) {
      for (const d of domains.filter((x) => x.name === name)) {
        const cur = readIfExists(d.file);
        if (cur.text === undefined) continue;
        const r = rewriteDomainConfig(cur.text, d, a.method, facts.xlDefaults.script);
        notes.push(...r.notes.map((n) => `${hostPath(paths.root, d.file)}: ${n}`));
        if (r.after !== cur.text) {
          changes.push({ path: d.file, shown: hostPath(paths.root, d.file), before: cur.text, beforeMode: cur.mode, after: r.after, mode: cur.mode ?? 0o644,
            why: `vif lines of domain ${name}: ${a.method === 'xl' ? 'localack=1' : 'script=vif-localack'}` });
        }
      }
    }
  }
  return { changes, notes };
}
