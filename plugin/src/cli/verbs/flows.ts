// `xlnet flows [VIF]`: the split connections, one line each. The code is in
// flows-run.ts, loaded when the verb runs.
import type { Verb } from '../verb.js';

export const flowsVerb: Verb = {
  name: 'flows',
  summary: 'list the split connections (all, or of one vif)',
  synopsis: ['flows [VIF] [--json]'],
  description: [
    'One line per split connection: the guest\'s and the remote end, state, age, bytes each way and current rates.',
    'JSON: an array of {id, vif, guest, remote, wanLocal, state, ageMs, bytesUp, bytesDown, rateUpBps, rateDownBps, engine}.',
  ],
  options: {},
  json: true,
  daemon: true,
  args: { min: 0, max: 1 },
  run: async (ctx) => (await import('./flows-run.js')).runFlows(ctx),
};
