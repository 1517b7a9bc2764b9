// `xlnet help` and `xlnet help VERB`, rendered from the verb table so the
// help cannot forget a flag.
import { EXIT_DOCS } from './exit-codes.js';
import { allOptions, type OptionSpec, type Verb } from './verb.js';

function optionLabel(name: string, o: OptionSpec): string {
  const short = o.short ? `-${o.short}, ` : '    ';
  const value = o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : '';
  return `${short}--${name}${value}`;
}

export function verbHelp(verb: Verb): string {
  const out: string[] = [];
  out.push(`Usage: ${verb.synopsis.map((s, i) => `${i ? '       ' : ''}xlnet ${s}`).join('\n')}`, '');
  for (const p of verb.description) out.push(p, '');
  const opts = Object.entries(allOptions(verb));
  const labels = opts.map(([n, o]) => optionLabel(n, o));
  const w = Math.max(...labels.map((l) => l.length));
  out.push('Options:');
  opts.forEach(([, o], i) => {
    const choices = o.choices ? ` (${o.choices.join(', ')})` : '';
    const multiple = o.multiple ? ' (repeatable)' : '';
    out.push(`  ${labels[i].padEnd(w)}  ${o.doc}${choices}${multiple}`);
  });
  return out.join('\n') + '\n';
}

export function generalHelp(verbs: readonly Verb[]): string {
  const w = Math.max(...verbs.map((v) => v.name.length));
  return [
    'Usage: xlnet VERB [ARGS] [--json] [--socket PATH] [--config FILE]',
    '',
    'xlnet controls xlnetd, which gives Xen guests local acknowledgement (split',
    'TCP) from Dom0, and sets the host up for it.',
    '',
    'Verbs:',
    ...verbs.map((v) => `  ${v.name.padEnd(w)}  ${v.summary}`),
    '',
    'Every verb takes --help; every read command takes --json. `xlnet help VERB`',
    'shows a verb\'s flags.',
    '',
    'Environment:',
    '  XLNET_SOCKET  control socket of xlnetd (default /run/xlnet/xlnetd.sock)',
    '  XLNET_CONF    xlnet.conf (default /etc/xen/xlnet.conf)',
    '',
    'Exit codes:',
    ...EXIT_DOCS.map(([c, d]) => `  ${String(c).padStart(3)}  ${d}`),
    '',
    'See also: man xlnet',
  ].join('\n') + '\n';
}
