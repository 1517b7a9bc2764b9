// `xlnet status`: is xlnetd up, what is attached, how much went through.
// The code that asks xlnetd is in status-run.ts, loaded when the verb runs.
import type { Verb } from '../verb.js';

export const statusVerb: Verb = {
  name: 'status',
  summary: 'xlnetd\'s health, the attached vifs with their profiles, flow counts and bytes',
  synopsis: ['status [--json]'],
  description: [
    'Asks xlnetd for its status and the list of attached vifs. Exit code 3 when xlnetd cannot be reached.',
    'JSON: {"socket": PATH, "daemon": {version, pid, uptimeSec, flows, ...}, "attachments": [{vif, profile, state, flows, bytesUp, ...}]}',
  ],
  options: {},
  json: true,
  daemon: true,
  args: { min: 0, max: 0 },
  run: async (ctx) => (await import('./status-run.js')).runStatus(ctx),
};
