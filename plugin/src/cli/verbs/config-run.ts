// What `xlnet config check [FILE]` does (its help is in config.ts):
// validates xlnet.conf and lists every problem with file:line (the config
// module finds them all, not just the first).
import { CliError, usageError } from '../cli-error.js';
import { EXIT } from '../exit-codes.js';
import { readConfig } from '../load-config.js';
import type { Ctx } from '../verb.js';

export async function runConfig(ctx: Ctx): Promise<number> {
  const [sub, fileArg] = ctx.positionals;
  if (sub !== 'check') throw usageError(`xlnet config: unknown subcommand '${sub}' (there is: config check [FILE])`, 'config');
  const file = fileArg ?? ctx.configPath;
  const r = readConfig(file);
  if (!r.found) {
    throw new CliError(EXIT.FAILED, `config check: ${file} does not exist (xlnetd would run on built-in defaults)`,
      'write one with: xlnet setup (or copy templates/xlnet.conf)');
  }
  const ok = r.errors.length === 0;
  if (ctx.json) {
    ctx.io.out(JSON.stringify({
      file, ok,
      errors: r.errors.map((e) => ({ code: e.code, line: e.line, section: e.section, key: e.key, value: e.value, problem: e.problem, allowed: e.allowed, message: e.message })),
      profiles: r.config ? [...r.config.profiles.keys()] : [],
      domains: r.config ? r.config.domains.map((d) => ({ pattern: d.pattern, localack: d.localack, vifs: d.vifs, line: d.line })) : [],
    }, null, 2) + '\n');
  } else if (ok) {
    const c = r.config!;
    ctx.io.out(`${file}: ok (profiles: ${[...c.profiles.keys()].join(', ')}; default profile ${c.defaults.profile}; ${c.domains.length} [domain] rule${c.domains.length === 1 ? '' : 's'})\n`);
  } else {
    for (const e of r.errors) ctx.io.err(`${e.message}\n`);
    ctx.io.err(`xlnet config check: ${r.errors.length} error${r.errors.length > 1 ? 's' : ''} in ${file}\n`);
  }
  return ok ? EXIT.OK : EXIT.FAILED;
}
