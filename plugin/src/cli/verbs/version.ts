// `xlnet version`: this xlnet's version and protocol, and the running
// xlnetd's. The code is in version-run.ts, loaded when the verb runs.
import type { Verb } from '../verb.js';

export const versionVerb: Verb = {
  name: 'version',
  summary: 'versions of xlnet, its control protocol, Node.js and the running xlnetd',
  synopsis: ['version [--json]'],
  description: ['JSON: {"xlnet": VERSION, "protocol": N, "node": VERSION, "daemon": {...} or null, "daemonError": MESSAGE?}.'],
  options: {},
  json: true,
  daemon: true,
  args: { min: 0, max: 0 },
  run: async (ctx) => (await import('./version-run.js')).runVersion(ctx),
};
