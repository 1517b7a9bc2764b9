// `xlnet attach`, `xlnet detach`, `xlnet set`, `xlnet reload`: the verbs that
// change what xlnetd does. Each prints one line saying what happened.
// Their code is in attach-run.ts, loaded when one of them runs.
import type { OptionSpec, Verb } from '../verb.js';

const PROFILE_FLAGS: Record<string, OptionSpec> = {
  profile: { type: 'string', short: 'p', value: 'NAME', doc: 'profile to use (a [profile NAME] of xlnet.conf; default: [defaults] profile)' },
  option: { type: 'string', short: 'o', value: 'KEY=VALUE', multiple: true, doc: 'override one profile setting for this vif, e.g. buffer=16m' },
};

export const attachVerb: Verb = {
  name: 'attach',
  summary: 'give a vif the service now (what the hotplug script does when a guest starts)',
  synopsis: ['attach VIF [--profile NAME] [--option KEY=VALUE ...] [--required]'],
  description: [
    'Steers the vif\'s new TCP connections through xlnetd. The vif must exist in Dom0 (vifDOMID.DEVID).',
  ],
  options: {
    ...PROFILE_FLAGS,
    domain: { type: 'string', value: 'NAME', doc: 'the guest\'s domain name, shown by status' },
    required: { type: 'boolean', doc: 'mark the attachment as required (as localack=required does)' },
  },
  json: true,
  daemon: true,
  args: { min: 1, max: 1 },
  run: async (ctx) => (await import('./attach-run.js')).runAttach(ctx),
};

export const detachVerb: Verb = {
  name: 'detach',
  summary: 'take the service off a vif (existing flows drain, or are reset)',
  synopsis: ['detach VIF [--drain | --reset]'],
  description: [
    '--drain (the default): new connections go direct at once, split ones finish normally. --reset: split connections are reset now.',
  ],
  options: {
    drain: { type: 'boolean', doc: 'let split connections finish (default)' },
    reset: { type: 'boolean', doc: 'reset split connections now' },
  },
  json: true,
  daemon: true,
  args: { min: 1, max: 1 },
  run: async (ctx) => (await import('./attach-run.js')).runDetach(ctx),
};

export const setVerb: Verb = {
  name: 'set',
  summary: 'change the profile or options of an attached vif (new flows use them)',
  synopsis: ['set VIF [--profile NAME] [--option KEY=VALUE ...]'],
  description: ['Existing split connections keep their settings; new ones use the new ones.'],
  options: PROFILE_FLAGS,
  json: true,
  daemon: true,
  args: { min: 1, max: 1 },
  run: async (ctx) => (await import('./attach-run.js')).runSet(ctx),
};

export const reloadVerb: Verb = {
  name: 'reload',
  summary: 'make xlnetd re-read xlnet.conf (profiles; attached vifs keep running)',
  synopsis: ['reload'],
  description: ['Check the file first with: xlnet config check. xlnetd keeps its old settings if the new file has errors.'],
  options: {},
  json: true,
  daemon: true,
  args: { min: 0, max: 0 },
  run: async (ctx) => (await import('./attach-run.js')).runReload(ctx),
};
