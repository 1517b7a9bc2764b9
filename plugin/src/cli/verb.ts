// What a verb is: its name, its help, its flags (one table that drives the
// parser, `xlnet help`, and the tests that keep man/xlnet.8 and the bash
// completion in step), and the function that runs it.
import type { Io } from './io.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** Placeholder shown in help, e.g. PATH. */
  value?: string;
  /** The only values allowed (checked after parsing, usage error otherwise). */
  choices?: readonly string[];
  doc: string;
}

export type Values = Record<string, string | boolean | string[] | undefined>;

export interface Ctx {
  io: Io;
  verb: Verb;
  values: Values;
  positionals: string[];
  /** --json was given (read commands). */
  json: boolean;
  /** --config, else $XLNET_CONF, else /etc/xen/xlnet.conf. */
  configPath: string;
}

export interface Verb {
  name: string;
  /** One line for the verb list. */
  summary: string;
  /** Usage lines without the leading `xlnet `. */
  synopsis: readonly string[];
  /** Paragraphs for `xlnet help VERB`. */
  description: readonly string[];
  /** The verb's own flags; the common ones are added by the parser. */
  options: Readonly<Record<string, OptionSpec>>;
  /** Takes --json (every read command does). */
  json: boolean;
  /** Talks to xlnetd (gets --socket). */
  daemon: boolean;
  args: { min: number; max: number };
  run(ctx: Ctx): Promise<number>;
}

export const COMMON_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  config: { type: 'string', value: 'FILE', doc: 'xlnet.conf to read (default: $XLNET_CONF, else /etc/xen/xlnet.conf)' },
  help: { type: 'boolean', short: 'h', doc: 'show the help of this verb' },
};

export const SOCKET_OPTION: Readonly<Record<string, OptionSpec>> = {
  socket: {
    type: 'string', value: 'PATH',
    doc: "xlnetd's control socket (default: $XLNET_SOCKET, else [daemon] socket in the config, else /run/xlnet/xlnetd.sock)",
  },
};

export const JSON_OPTION: Readonly<Record<string, OptionSpec>> = {
  json: { type: 'boolean', doc: 'print JSON (for scripts) instead of a table' },
};

/** Every flag a verb accepts, common ones included, in help order. */
export function allOptions(verb: Verb): Record<string, OptionSpec> {
  return {
    ...verb.options,
    ...(verb.json ? JSON_OPTION : {}),
    ...(verb.daemon ? SOCKET_OPTION : {}),
    ...COMMON_OPTIONS,
  };
}
