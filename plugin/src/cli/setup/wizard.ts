// The interactive part of `xlnet setup` (@inquirer/prompts): asks only what
// no flag answered, each question starting at the current state's answer.
import { checkbox, confirm, input, select } from '@inquirer/prompts';
import { PROFILE_PRESETS, type XlnetConfig } from '../../config/index.js';
import { unifiedDiff } from '../format/diff.js';
import type { Io } from '../io.js';
import type { DomainConfigFile } from '../xen-host.js';
import { profileChoices, type PartialAnswers, type SetupAnswers, type Mode } from './answers.js';
import type { HostFacts } from './host-checks.js';
import { hostPath } from './paths.js';
import type { Method } from './methods.js';
import { rewriteDomainConfig } from './vif-rewrite.js';
import { readFileSync } from 'node:fs';

export interface WizardContext {
  io: Io;
  root: string;
  facts: HostFacts;
  domains: readonly DomainConfigFile[];
  current: XlnetConfig | undefined;
}

function profileDescription(name: string): string {
  const preset = PROFILE_PRESETS.find((p) => p.name === name);
  if (preset) {
    return `${preset.summary}\n  sets: ${Object.entries(preset.settings).map(([k, v]) => `${k}=${v}`).join(' ')}`;
  }
  if (name === 'default') return 'built-in: kernel autotuning of socket buffers, 4m relay buffer, cubic to the guest, bbr on the WAN leg';
  return 'a profile of the current xlnet.conf';
}

export async function askAnswers(given: PartialAnswers, defaults: SetupAnswers, w: WizardContext): Promise<SetupAnswers> {
  const out = (s: string): void => w.io.out(s);

  const mode: Mode = given.mode ?? await select<Mode>({
    message: 'How are guest vifs connected to the network?',
    choices: [
      { name: 'bridge', value: 'bridge', description: 'vif-bridge: each vif joins a Linux bridge (the Xen default)' },
      { name: 'route', value: 'route', description: 'vif-route: Dom0 routes each guest\'s addresses' },
    ],
    default: defaults.mode,
  });

  let bridges: string[] = given.bridges ?? defaults.bridges;
  if (mode === 'bridge' && !given.bridges) {
    if (w.facts.bridges.length) {
      bridges = await checkbox<string>({
        message: 'Which bridges carry guest vifs?',
        choices: w.facts.bridges.map((b) => ({ name: b, value: b, checked: defaults.bridges.includes(b) })),
        validate: (v) => (v.length ? true : 'pick at least one bridge (space toggles)'),
      });
    } else {
      const b = await input({
        message: 'No bridge exists on this host yet. Name of the bridge guests will use:',
        default: defaults.bridges[0] ?? 'xenbr0',
        validate: (v) => (/^[A-Za-z0-9_.-]{1,15}$/.test(v) ? true : '1-15 characters: letters, digits, _ . -'),
      });
      bridges = [b];
    }
  }

  const profile = given.profile ?? await select<string>({
    message: 'Default profile (what localack=1 uses)?',
    choices: profileChoices(w.current).map((p) => ({ name: p, value: p, description: profileDescription(p) })),
    default: defaults.profile,
  });

  let domains = given.domains ?? defaults.domains;
  if (!given.domains) {
    const named = w.domains.filter((d) => d.name !== undefined);
    if (named.length === 0) {
      out(`No domain configs (*.cfg with a name) in ${hostPath(w.root, w.domains[0]?.file ?? '') || 'the domain config directory'}: no domains to offer.\n`);
      domains = [];
    } else {
      domains = await checkbox<string>({
        message: 'Which domains get the service?',
        choices: w.domains.map((d) => ({
          name: `${(d.name ?? '?').padEnd(12)} ${hostPath(w.root, d.file)}  vif: ${d.vifs.length ? d.vifs.join(' | ') : '(none)'}`,
          value: d.name ?? '',
          checked: d.name !== undefined && defaults.domains.includes(d.name),
          disabled: d.error ? `(xl cannot read it: ${d.error})` : d.name === undefined ? '(no name = "...")' : false,
        })),
        pageSize: 12,
      });
    }
  }

  const method: Method = given.method ?? await select<Method>({
    message: 'How should the service be turned on for their vifs?',
    choices: [
      { name: 'vif-post.d hook', value: 'hook', description: 'no change to guest configs: a [domain NAME] rule in xlnet.conf per domain; the hook runs for every vif' },
      { name: 'script=vif-localack', value: 'script', description: 'adds script=vif-localack to the domains\' vif lines (works with stock xl)' },
      {
        name: 'localack=1 (patched xl)', value: 'xl',
        description: 'adds localack=1 to the domains\' vif lines; needs the xl built from libxl-patch/',
        disabled: w.facts.xl.patched ? false : '(xl on this host is stock: it would drop localack=)',
      },
    ],
    default: defaults.method === 'xl' && !w.facts.xl.patched ? 'hook' : defaults.method,
  });

  let rewriteConfigs = given.rewriteConfigs ?? method !== 'hook';
  if (method !== 'hook' && given.rewriteConfigs === undefined && domains.length) {
    const diffs: string[] = [];
    for (const d of w.domains.filter((x) => x.name !== undefined && domains.includes(x.name))) {
      const text = readFileSync(d.file, 'utf8');
      const r = rewriteDomainConfig(text, d, method, w.facts.xlDefaults.script);
      const diff = unifiedDiff(text, r.after, hostPath(w.root, d.file), 1);
      if (diff) diffs.push(diff);
      for (const n of r.notes) diffs.push(`  note: ${n}\n`);
    }
    if (diffs.length) {
      out(`\nThe vif lines would change like this:\n${diffs.join('')}\n`);
      rewriteConfigs = await confirm({ message: 'Rewrite these domain configs (a backup of each is kept as NAME.cfg.xlnet-backup)?', default: true });
    }
  }
  return { mode, bridges: mode === 'bridge' ? bridges : [], profile, domains, method, rewriteConfigs };
}

export async function confirmApply(count: number): Promise<boolean> {
  return confirm({ message: `Apply ${count === 1 ? 'this change' : `these ${count} changes`}?`, default: true });
}
