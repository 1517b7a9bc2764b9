// The host files setup writes besides xlnet.conf: the sysctl drop-in and the
// systemd unit (from templates/xlnetd.service).
import { hostPath } from './paths.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../version-info.js';
import type { SetupAnswers } from './answers.js';

/** Lines starting with `-`: sysctl ignores a failure (a bridge or module not there yet at boot). */
export function renderSysctlDropin(a: SetupAnswers, bridgeNetfilter: boolean): string {
  const out = [
    '# Written by `xlnet setup`; removed by `xlnet setup --uninstall`.',
    '# Kernel settings xlnetd needs. Applied at boot (systemd-sysctl / procps);',
    '# now with: sysctl -p /etc/sysctl.d/60-xlnet.conf',
    '',
    '# A guest connection accepted on the TPROXY listener must keep the mark',
    '# the steering rules gave its SYN, so its replies are routed back the same way.',
    'net.ipv4.tcp_fwmark_accept = 1',
    '',
    '# The WAN leg sends with the guest\'s address from Dom0; strict reverse-path',
    '# filtering would drop the replies on the bridge or the route.',
    'net.ipv4.conf.all.rp_filter = 0',
    'net.ipv4.conf.default.rp_filter = 0',
  ];
  for (const br of a.mode === 'bridge' ? a.bridges : []) out.push(`-net.ipv4.conf.${br}.rp_filter = 0`);
  if (a.mode === 'bridge' && bridgeNetfilter) {
    out.push(
      '',
      '# br_netfilter is loaded: bridged guest packets must not also pass iptables,',
      '# or they are seen twice and TPROXY steering on the bridge breaks.',
      '-net.bridge.bridge-nf-call-iptables = 0',
      '-net.bridge.bridge-nf-call-ip6tables = 0',
    );
  }
  if (a.mode === 'route') {
    out.push('', '# Routed guests (vif-route): Dom0 forwards their packets.', 'net.ipv4.ip_forward = 1');
  }
  return out.join('\n') + '\n';
}

/** Marks the wrappers setup installs, so a later run does not take them for an installed xlnet. */
export const WRAPPER_MARK = 'Installed by `xlnet setup`';

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = dir ? join(dir, name) : '';
    if (!p || !existsSync(p)) continue;
    try {
      if (readFileSync(p, 'utf8').slice(0, 400).includes(WRAPPER_MARK)) continue;
    } catch { continue; }
    return p;
  }
  return undefined;
}

/**
 * How to run xlnet and xlnetd here: installed commands (npm -g, a package),
 * else node with this package's build. With `--root DIR` (a staged install),
 * paths inside DIR are written as the installed system will see them.
 */
export function xlnetdCommand(sysRoot = '/'): { xlnetd: string; xlnet: string; installed: boolean } {
  const seen = (p: string) => hostPath(sysRoot, p);
  const xlnetd = onPath('xlnetd');
  const xlnet = onPath('xlnet');
  if (xlnetd && xlnet) return { xlnetd: seen(xlnetd), xlnet: seen(xlnet), installed: true };
  const root = packageRoot();
  return {
    xlnetd: `${process.execPath} ${seen(join(root, 'plugin/dist/daemon/main.js'))}`,
    xlnet: `${process.execPath} ${seen(join(root, 'plugin/dist/cli/main.js'))}`,
    installed: false,
  };
}

/** The built entry points the wrappers and the unit run (tsc output). */
export function builtEntryPoints(): string[] {
  const root = packageRoot();
  return ['plugin/dist/cli/main.js', 'plugin/dist/daemon/main.js'].map((p) => join(root, p));
}

/**
 * /usr/local/sbin/xlnet and xlnetd when no xlnet is installed: the hotplug
 * hook runs `xlnet hotplug` from PATH.
 */
export function renderWrapper(command: string): string {
  return `#!/bin/sh\n# ${WRAPPER_MARK}; removed by \`xlnet setup --uninstall\`.\nexec ${command} "$@"\n`;
}

export function renderUnit(confPath: string, sysRoot = '/'): string {
  const template = readFileSync(join(packageRoot(), 'templates/xlnetd.service'), 'utf8');
  const cmd = xlnetdCommand(sysRoot);
  return template.replaceAll('@XLNETD@', cmd.xlnetd).replaceAll('@XLNET@', cmd.xlnet).replaceAll('@XLNET_CONF@', confPath);
}
