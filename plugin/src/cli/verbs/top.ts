// `xlnet top`: a live view of xlnetd's vifs and flows. The code is in
// top-run.ts, loaded when the verb runs.
import type { Verb } from '../verb.js';

export const topVerb: Verb = {
  name: 'top',
  summary: 'live view of vifs and flows with their rates (q or Ctrl-C quits)',
  synopsis: ['top [--interval SECONDS] [--json]'],
  description: [
    'Redraws every second on a terminal, busiest flows first; q or Ctrl-C quits.',
    'When stdout is not a terminal, or with --json, prints one snapshot and exits.',
    'JSON: {"daemon": {...}, "attachments": [...], "flows": [...]}.',
  ],
  options: {
    interval: { type: 'string', short: 'i', value: 'SECONDS', doc: 'seconds between refreshes (default 1)' },
  },
  json: true,
  daemon: true,
  args: { min: 0, max: 0 },
  run: async (ctx) => (await import('./top-run.js')).runTop(ctx),
};
