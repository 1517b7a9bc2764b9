// `xlnet help [VERB]`.
import { usageError } from '../cli-error.js';
import { EXIT } from '../exit-codes.js';
import { generalHelp, verbHelp } from '../help-text.js';
import type { Verb } from '../verb.js';

export function helpVerb(all: () => readonly Verb[]): Verb {
  return {
    name: 'help',
    summary: 'this list, or the flags of one verb',
    synopsis: ['help [VERB]'],
    description: [],
    options: {},
    json: false,
    daemon: false,
    args: { min: 0, max: 1 },
    async run(ctx) {
      const name = ctx.positionals[0];
      if (name === undefined) { ctx.io.out(generalHelp(all())); return EXIT.OK; }
      const v = all().find((x) => x.name === name);
      if (!v) throw usageError(`xlnet help: unknown verb '${name}'`);
      ctx.io.out(verbHelp(v));
      return EXIT.OK;
    },
  };
}
