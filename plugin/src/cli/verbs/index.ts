// Every verb of `xlnet`, in the order `xlnet help` lists them.
import type { Verb } from '../verb.js';
import { attachVerb, detachVerb, reloadVerb, setVerb } from './attach.js';
import { checkVerb } from './check.js';
import { configVerb } from './config.js';
import { flowsVerb } from './flows.js';
import { helpVerb } from './help.js';
import { hotplugVerb } from './hotplug.js';
import { setupVerb } from '../setup/setup-verb.js';
import { statusVerb } from './status.js';
import { topVerb } from './top.js';
import { versionVerb } from './version.js';

export const VERBS: readonly Verb[] = [
  statusVerb, flowsVerb, topVerb, attachVerb, detachVerb, setVerb, reloadVerb,
  checkVerb, configVerb, setupVerb, hotplugVerb, versionVerb, helpVerb(() => VERBS),
];

export function findVerb(name: string): Verb | undefined {
  return VERBS.find((v) => v.name === name);
}
