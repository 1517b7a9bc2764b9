// The dispatcher: finds the verb, parses its flags strictly (node:util
// parseArgs), runs it and turns every error into a message and an exit code.
// `main.ts` calls it with the process's streams; tests call it in-process.
import { parseArgs } from 'node:util';
import { closest } from '../config/suggest.js';
import { CliError, usageError } from './cli-error.js';
import { DEFAULT_CONF_PATH } from './conf-path.js';
import { EXIT } from './exit-codes.js';
import { generalHelp, verbHelp } from './help-text.js';
import type { Io } from './io.js';
import { allOptions, type Ctx, type Values, type Verb } from './verb.js';
import { VERBS, findVerb } from './verbs/index.js';

/** Flags that take a value, so `xlnet --socket X status` finds the verb. */
const VALUE_FLAGS = new Set(['--socket', '--config']);

function splitVerb(argv: readonly string[]): { verb?: string; rest: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') return { verb: argv[i + 1], rest: [...argv.slice(0, i), ...argv.slice(i + 2)] };
    if (VALUE_FLAGS.has(a)) { i++; continue; }
    if (a.startsWith('-')) continue;
    return { verb: a, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
  }
  return { rest: [...argv] };
}

/** parseArgs' messages, minus its advice about `--`, which is not ours to give. */
function parseArgsMessage(e: Error): string {
  return e.message.split('. To specify a positional')[0].replace(/\.$/, '');
}

function parse(verb: Verb, args: string[]): { values: Values; positionals: string[] } {
  const options = allOptions(verb);
  const parseOptions = Object.fromEntries(
    Object.entries(options).map(([name, o]) => [name, { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) }]),
  );
  let parsed;
  try {
    parsed = parseArgs({ args, options: parseOptions, allowPositionals: true, strict: true });
  } catch (e) {
    throw usageError(`xlnet ${verb.name}: ${parseArgsMessage(e as Error)}`, verb.name);
  }
  const values = parsed.values as Values;
  for (const [name, o] of Object.entries(options)) {
    if (!o.choices) continue;
    const given = values[name];
    for (const v of Array.isArray(given) ? given : typeof given === 'string' ? [given] : []) {
      if (!o.choices.includes(v)) {
        throw usageError(`xlnet ${verb.name}: --${name} ${v}: not one of ${o.choices.join(', ')}`, verb.name);
      }
    }
  }
  return { values, positionals: parsed.positionals };
}

export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  try {
    const { verb: name, rest } = splitVerb(argv);
    if (name === undefined) {
      if (rest.includes('--help') || rest.includes('-h')) { io.out(generalHelp(VERBS)); return EXIT.OK; }
      if (rest.includes('--version')) return await runCli(['version', ...rest.filter((a) => a !== '--version')], io);
      io.err(generalHelp(VERBS));
      io.err('\nxlnet: no verb given\n');
      return EXIT.USAGE;
    }
    const verb = findVerb(name);
    if (!verb) {
      const near = closest(name, VERBS.map((v) => v.name));
      throw usageError(`xlnet: unknown verb '${name}'${near ? ` (did you mean ${near}?)` : ''}`);
    }
    const { values, positionals } = parse(verb, rest);
    if (values.help) { io.out(verbHelp(verb)); return EXIT.OK; }
    if (positionals.length < verb.args.min) {
      throw usageError(`xlnet ${verb.name}: missing argument (usage: xlnet ${verb.synopsis[0]})`, verb.name);
    }
    if (positionals.length > verb.args.max) {
      throw usageError(`xlnet ${verb.name}: unexpected argument '${positionals[verb.args.max]}' (usage: xlnet ${verb.synopsis[0]})`, verb.name);
    }
    const ctx: Ctx = {
      io, verb, values, positionals,
      json: values.json === true,
      configPath: (values.config as string | undefined) ?? io.env.XLNET_CONF ?? DEFAULT_CONF_PATH,
    };
    return await verb.run(ctx);
  } catch (e) {
    return reportError(e, io);
  }
}

export function reportError(e: unknown, io: Io): number {
  if (e instanceof CliError) {
    const msg = e.message.startsWith('xlnet') ? e.message : `xlnet: ${e.message}`;
    io.err(`${msg}\n`);
    if (e.hint) io.err(`  ${e.hint}\n`);
    return e.exitCode;
  }
  // Ctrl-C inside an inquirer prompt.
  if (e instanceof Error && e.name === 'ExitPromptError') {
    io.err('xlnet: interrupted; nothing more was changed\n');
    return EXIT.INTERRUPTED;
  }
  io.err(`xlnet: internal error: ${(e as Error)?.stack ?? String(e)}\n  please report this with the command you ran\n`);
  return EXIT.FAILED;
}
