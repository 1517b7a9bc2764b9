// `xlnet check GUEST.cfg ...`: per vif of each guest config, whether xlnet
// will serve it, how it is turned on and with which profile. The code is in
// check-run.ts, loaded when the verb runs.
import type { Verb } from '../verb.js';

export const checkVerb: Verb = {
  name: 'check',
  summary: 'tell, per vif of guest configs, whether and how xlnet will serve it',
  synopsis: ['check GUEST.cfg [GUEST.cfg ...] [--xl patched|stock] [--xl-conf FILE] [--json]'],
  description: [
    'Reads each xl domain config as xl 4.17 does and, for every vif, says whether the service will be on, how it is',
    'turned on (localack= with the patched xl, script=vif-localack, or a [domain] section of xlnet.conf) and with',
    'which profile; also unknown vif keys, bad localack values and anything xl would refuse. Exit code 1 on errors.',
    'JSON: an array of {file, name, ok, vifs: [{index, devid, line, mode, bridge, script, activation, enabled, required, profile, warnings, errors}], warnings, errors}.',
  ],
  options: {
    xl: { type: 'string', value: 'KIND', choices: ['patched', 'stock'], doc: 'which xl to judge against (default: detect the installed one)' },
    'xl-conf': { type: 'string', value: 'FILE', doc: 'xl.conf with vif.default.script/bridge (default /etc/xen/xl.conf)' },
  },
  json: true,
  daemon: false,
  args: { min: 1, max: Infinity },
  run: async (ctx) => (await import('./check-run.js')).runCheck(ctx),
};
