// `xlnet setup`: its flags and help. What it does is in setup-run.ts, loaded
// only when setup runs, so every other verb (and `xlnet help setup`) starts
// without the wizard's modules (@inquirer/prompts, ora).
import type { Verb } from '../verb.js';
import { METHODS } from './methods.js';
import { SYSTEM_PATHS } from './paths.js';

export const setupVerb: Verb = {
  name: 'setup',
  summary: 'check the host and set the service up (interactive wizard, or flags with --yes)',
  synopsis: [
    'setup [--yes] [--dry-run] [--root DIR] [--xen-dir DIR] [--mode bridge|route] [--bridge BR ...]',
    '      [--profile NAME] [--domain NAME ... | --domain none] [--method hook|script|xl]',
    '      [--rewrite-configs | --keep-configs] [--no-start]',
    'setup --uninstall [--dry-run] [--yes] [--root DIR]',
  ],
  description: [
    'Checks the host (root, Xen toolstack and hypervisor, xenstored, bridges, vif script, nftables tproxy, BPF,',
    'bridge netfilter, forwarding, tcp_fwmark_accept, Node.js, patched xl), shows what it found, then asks: how vifs',
    'are connected (bridges or routes), the default profile, which domains get the service, and how it is turned on',
    '(vif-post.d hook with [domain] rules; script=vif-localack; localack=1 with the patched xl).',
    'It writes /etc/xen/xlnet.conf, the hotplug scripts into /etc/xen/scripts, /etc/sysctl.d/60-xlnet.conf and',
    '/etc/systemd/system/xlnetd.service, and - if asked - rewrites the chosen domains\' vif lines (a backup of each',
    'file it changes is kept as FILE.xlnet-backup). Every change is shown first; writes are atomic. What it did is',
    `recorded in ${SYSTEM_PATHS.manifest}, which --uninstall reads to undo exactly that.`,
    'Re-running shows the current state and changes only what differs. Without a terminal, give the answers as',
    'flags and --yes (unanswered questions take the current state or the defaults).',
  ],
  options: {
    yes: { type: 'boolean', short: 'y', doc: 'do not ask: take flags, then the current state, then defaults; apply without confirming' },
    'dry-run': { type: 'boolean', short: 'n', doc: 'show every change it would make, write nothing' },
    uninstall: { type: 'boolean', doc: 'remove what setup installed and restore the backups' },
    root: { type: 'string', value: 'DIR', doc: 'treat DIR as / for every file read or written (for tests and image builds)' },
    'xen-dir': { type: 'string', value: 'DIR', doc: 'where the domain configs are (default ROOT/etc/xen)' },
    mode: { type: 'string', value: 'MODE', choices: ['bridge', 'route'], doc: 'how guest vifs are connected' },
    bridge: { type: 'string', value: 'BR', multiple: true, doc: 'a bridge that carries guest vifs' },
    profile: { type: 'string', value: 'NAME', doc: 'default profile: default, satellite, transcontinental, lossy or one of xlnet.conf' },
    domain: { type: 'string', value: 'NAME', multiple: true, doc: 'a domain that gets the service (`none`: no domain)' },
    method: { type: 'string', value: 'HOW', choices: METHODS, doc: 'how the service is turned on for those domains' },
    'rewrite-configs': { type: 'boolean', doc: 'rewrite the chosen domains\' vif lines (script and xl methods)' },
    'keep-configs': { type: 'boolean', doc: 'leave the domain configs alone' },
    'no-start': { type: 'boolean', doc: 'enable the systemd unit but do not start it now' },
  },
  json: false,
  daemon: false,
  args: { min: 0, max: 0 },
  run: async (ctx) => (await import('./setup-run.js')).runSetup(ctx),
};
