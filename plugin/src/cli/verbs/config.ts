// `xlnet config check [FILE]`: validates xlnet.conf. The code is in
// config-run.ts, loaded when the verb runs.
import type { Verb } from '../verb.js';

export const configVerb: Verb = {
  name: 'config',
  summary: 'config check [FILE]: validate xlnet.conf, every error with file:line',
  synopsis: ['config check [FILE] [--json]'],
  description: [
    'Checks FILE (default: --config, $XLNET_CONF or /etc/xen/xlnet.conf): unknown sections and keys, bad values,',
    'duplicate keys, undefined profiles. Exit code 1 when there are errors or the file does not exist.',
    'JSON: {file, ok, errors: [{code, line, section, key, value, problem, allowed, message}], profiles, domains}.',
  ],
  options: {},
  json: true,
  daemon: false,
  args: { min: 1, max: 2 },
  run: async (ctx) => (await import('./config-run.js')).runConfig(ctx),
};
