// What `xlnet setup` checks on the host before it asks anything: the Xen
// toolstack, xenstored, bridges and the vif script, the kernel features the
// service needs, Node, and whether xl is the patched one. Every check that
// is not fine says what to do. Probes only read the host, except the nft
// probe, which runs in a network namespace of its own, deleted afterwards.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { XenstoreClient } from '../../xen/xenstore.js';
import { detectPatchedXl, readXlDefaults, type XlDefaults, type XlDetection } from '../xen-host.js';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'info';

export interface HostCheck {
  id: string;
  title: string;
  status: CheckStatus;
  detail: string;
  /** What to do, when the status is not ok. */
  fix?: string;
}

export interface HostFacts {
  isRoot: boolean;
  bridges: string[];
  /** br_netfilter is loaded (net.bridge.* sysctls exist). */
  bridgeNetfilter: boolean;
  xl: XlDetection;
  xlDefaults: XlDefaults;
  systemd: boolean;
  pid1: string;
}

export interface HostReport {
  checks: HostCheck[];
  facts: HostFacts;
}

function run(cmd: string, args: string[], input?: string): { ok: boolean; out: string; err: string; missing: boolean } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, timeout: 10_000 });
  const missing = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
  return { ok: r.status === 0, out: r.stdout ?? '', err: (r.stderr ?? '').trim() || (r.error?.message ?? ''), missing };
}

function sysctl(name: string): string | undefined {
  try {
    return readFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function firstLine(s: string): string {
  return s.split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
}

export function listBridges(): string[] {
  const r = run('ip', ['-j', 'link', 'show', 'type', 'bridge']);
  if (!r.ok) return [];
  try {
    return (JSON.parse(r.out) as { ifname: string }[]).map((l) => l.ifname).sort();
  } catch {
    return [];
  }
}

export function pid1Name(): string {
  try { return readFileSync('/proc/1/comm', 'utf8').trim(); } catch { return 'unknown'; }
}

/** systemd's own test (sd_booted): /run/systemd/system exists only when it is PID 1. */
export function systemdRunning(): boolean {
  return existsSync('/run/systemd/system') && pid1Name() === 'systemd';
}

// The same rules tools/check-env.sh uses: the two expressions the
// steering module needs (fib, tproxy), in a throwaway netns.
const NFT_PROBE = `table inet xlnet_probe {
  chain p {
    type filter hook prerouting priority mangle;
    meta l4proto tcp fib saddr . iif oif exists meta mark set 1
    meta l4proto tcp tproxy ip to 127.0.0.1:1 meta mark set 1 accept
  }
}
`;

function probeNft(): HostCheck {
  const title = 'nftables tproxy';
  const ns = `xlnet-setup-${process.pid}`;
  const add = run('ip', ['netns', 'add', ns]);
  if (!add.ok) {
    return { id: 'nft', title, status: 'warn', detail: `not probed: cannot create a network namespace (${firstLine(add.err)})`,
      fix: 'check by hand: nft must accept "tproxy" and "fib" rules (CONFIG_NFT_TPROXY, CONFIG_NFT_FIB_INET)' };
  }
  try {
    const r = run('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], NFT_PROBE);
    if (r.missing) return { id: 'nft', title, status: 'fail', detail: 'ip netns exec failed: ' + r.err, fix: 'install iproute2 and nftables' };
    if (r.ok) return { id: 'nft', title, status: 'ok', detail: 'nft accepts tproxy and fib rules' };
    return { id: 'nft', title, status: 'fail', detail: `nft refused the tproxy/socket rules: ${firstLine(r.err)}`,
      fix: r.err.includes('No such file') || r.err.includes('not found') ? 'install nftables: apt-get install nftables'
        : 'the kernel needs nf_tables with nft_tproxy and nft_fib_inet (CONFIG_NFT_TPROXY, CONFIG_NFT_FIB_INET)' };
  } finally {
    run('ip', ['netns', 'del', ns]);
  }
}

async function probeXenstore(): Promise<HostCheck> {
  const title = 'xenstored';
  try {
    const c = await XenstoreClient.connect({ timeoutMs: 2000 });
    try {
      await c.tryRead('/local/domain/0/name');
      return { id: 'xenstored', title, status: 'ok', detail: `reachable at ${c.path}` };
    } finally {
      await c.close();
    }
  } catch (e) {
    return { id: 'xenstored', title, status: 'warn', detail: `not reachable: ${firstLine((e as Error).message)}`,
      fix: 'start Xen\'s daemons (systemctl start xen.service / xencommons); the hotplug path needs xenstored' };
  }
}

export async function runHostChecks(opts: { root: string; xlConf: string }): Promise<HostReport> {
  const checks: HostCheck[] = [];
  const add = (c: HostCheck): void => { checks.push(c); };
  const isRoot = process.getuid?.() === 0;

  if (isRoot) add({ id: 'root', title: 'root', status: 'ok', detail: 'running as root' });
  else if (opts.root !== '/') add({ id: 'root', title: 'root', status: 'warn', detail: `not root: fine for --root ${opts.root}, not for the real host`, fix: 'sudo xlnet setup' });
  else add({ id: 'root', title: 'root', status: 'fail', detail: 'not running as root: setup writes /etc and loads kernel settings', fix: 'run: sudo xlnet setup' });

  const pkgs = run('dpkg-query', ['-W', '-f', '${Package} ${Version} ${db:Status-Abbrev}\n', 'xen-utils-4*']);
  const installed = pkgs.out.split('\n').filter((l) => /\sii\s*$/.test(l)).map((l) => l.split(' ').slice(0, 2).join(' '));
  if (pkgs.missing) add({ id: 'xen-utils', title: 'Xen userspace', status: 'info', detail: 'no dpkg: cannot tell which Xen tools package is installed' });
  else if (installed.length) add({ id: 'xen-utils', title: 'Xen userspace', status: 'ok', detail: installed.join(', ') });
  else add({ id: 'xen-utils', title: 'Xen userspace', status: 'fail', detail: 'xen-utils is not installed', fix: 'apt-get install xen-system-amd64 (or xen-utils-4.17)' });

  const info = run('xl', ['info']);
  if (info.missing) add({ id: 'xl-info', title: 'Xen hypervisor', status: 'fail', detail: 'no xl command', fix: 'install the Xen toolstack (xen-utils)' });
  else if (info.ok) {
    const f = (k: string): string | undefined => new RegExp(`^${k}\\s*:\\s*(.*)$`, 'm').exec(info.out)?.[1];
    add({ id: 'xl-info', title: 'Xen hypervisor', status: 'ok', detail: `Xen ${f('xen_major')}.${f('xen_minor')}${f('xen_extra') ?? ''} running` });
  } else {
    add({ id: 'xl-info', title: 'Xen hypervisor', status: 'warn', detail: `xl info failed: ${firstLine(info.err) || 'no output'}`,
      fix: 'no hypervisor is running: boot this host into Xen; setup can still write the configuration now' });
  }

  add(await probeXenstore());

  const xl = detectPatchedXl();
  add({ id: 'xl-patched', title: 'xl localack=', status: xl.patched ? 'ok' : 'info', detail: xl.detail });

  const bridges = listBridges();
  add(bridges.length
    ? { id: 'bridges', title: 'bridges', status: 'ok', detail: bridges.join(', ') }
    : { id: 'bridges', title: 'bridges', status: 'warn', detail: 'no Linux bridge on this host',
      fix: 'bridged guests need one (e.g. xenbr0 in /etc/network/interfaces), or answer route mode' });

  const xlDefaults = readXlDefaults(opts.xlConf);
  add({ id: 'vif-script', title: 'vif script', status: 'info',
    detail: xlDefaults.script ? `vif.default.script = ${xlDefaults.script} (${opts.xlConf})` : `vif.default.script not set in ${opts.xlConf}: libxl uses vif-bridge` });

  add(isRoot ? probeNft() : { id: 'nft', title: 'nftables tproxy', status: 'warn', detail: 'not probed: needs root (a throwaway network namespace)', fix: 'run setup as root' });

  const bpfMounted = (() => { try { return /\s\/sys\/fs\/bpf\sbpf\s/.test(readFileSync('/proc/mounts', 'utf8')); } catch { return false; } })();
  if (bpfMounted) add({ id: 'bpf', title: 'BPF', status: 'ok', detail: 'bpffs mounted at /sys/fs/bpf' });
  else if (existsSync('/sys/fs/bpf')) add({ id: 'bpf', title: 'BPF', status: 'warn', detail: '/sys/fs/bpf exists but bpffs is not mounted', fix: 'mount -t bpf bpf /sys/fs/bpf (systemd does it at boot)' });
  else add({ id: 'bpf', title: 'BPF', status: 'fail', detail: 'no /sys/fs/bpf: the kernel lacks BPF or bpffs', fix: 'use a kernel with CONFIG_BPF_SYSCALL' });

  const brnf = sysctl('net.bridge.bridge-nf-call-iptables');
  if (brnf === undefined) add({ id: 'br-netfilter', title: 'bridge netfilter', status: 'ok', detail: 'br_netfilter not loaded' });
  else if (brnf === '0') add({ id: 'br-netfilter', title: 'bridge netfilter', status: 'ok', detail: 'net.bridge.bridge-nf-call-iptables = 0' });
  else add({ id: 'br-netfilter', title: 'bridge netfilter', status: 'warn', detail: `net.bridge.bridge-nf-call-iptables = ${brnf}: bridged guest packets also pass iptables`,
    fix: 'the sysctl drop-in setup writes sets it to 0' });

  const fwd = sysctl('net.ipv4.ip_forward');
  add({ id: 'forwarding', title: 'IPv4 forwarding', status: 'info', detail: `net.ipv4.ip_forward = ${fwd ?? '?'} (route mode needs 1; the drop-in sets it in route mode)` });

  const fwmark = sysctl('net.ipv4.tcp_fwmark_accept');
  if (fwmark === '1') add({ id: 'fwmark', title: 'tcp_fwmark_accept', status: 'ok', detail: 'net.ipv4.tcp_fwmark_accept = 1' });
  else add({ id: 'fwmark', title: 'tcp_fwmark_accept', status: 'warn', detail: `net.ipv4.tcp_fwmark_accept = ${fwmark ?? 'missing'}: accepted guest connections would not keep their mark`,
    fix: 'the sysctl drop-in setup writes sets it to 1' });

  const major = Number(process.versions.node.split('.')[0]);
  add(major >= 20
    ? { id: 'node', title: 'Node.js', status: 'ok', detail: `v${process.versions.node}` }
    : { id: 'node', title: 'Node.js', status: 'fail', detail: `v${process.versions.node}: xlnetd needs >= 20`, fix: 'install Node.js 20 or later' });

  const pid1 = pid1Name();
  const systemd = systemdRunning();
  add(systemd
    ? { id: 'systemd', title: 'systemd', status: 'ok', detail: 'running: setup enables xlnetd.service' }
    : { id: 'systemd', title: 'systemd', status: 'info', detail: `not running (PID 1 is ${pid1}): xlnetd must be started by hand or by your init system` });

  return { checks, facts: { isRoot, bridges, bridgeNetfilter: brnf !== undefined, xl, xlDefaults, systemd, pid1 } };
}

const MARK: Record<CheckStatus, string> = { ok: '[ ok ]', warn: '[warn]', fail: '[FAIL]', info: '[info]' };

export function renderChecks(checks: readonly HostCheck[]): string {
  const w = Math.max(...checks.map((c) => c.title.length));
  const out: string[] = [];
  for (const c of checks) {
    out.push(`  ${MARK[c.status]} ${c.title.padEnd(w)}  ${c.detail}`);
    if (c.fix && c.status !== 'ok') out.push(`         ${' '.repeat(w)}  -> ${c.fix}`);
  }
  return out.join('\n') + '\n';
}
