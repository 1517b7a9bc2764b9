// The virtual Dom0 lab: a model of a Xen host built from network namespaces.
//
//   guest ns <p>-g<domid>          Dom0 ns <p>-dom0                    <p>-gw         <p>-wan          <p>-remote
//   eth0 ---- veth ---- vif<domid>.<devid> -- xenbr0 -- uplink0 ==== lan0  wan0 ==== wana [wanem] wanb ==== eth0
//        (vif-bridge: enslaved to xenbr0; vif-route: routed by Dom0)      router        L2 emulator      servers
//
// Lab vifs come up and go down through the same hotplug entry points libxl
// uses (shared/docs/xen.md): the backend directory is written to a real
// xenstored the way libxl writes it, then `<script> online type_if=vif` runs in
// Dom0 with libxl's environment, and the lab waits for hotplug-status. The
// scripts are a private copy of Xen's own /etc/xen/scripts with xlnet's
// hotplug scripts installed next to them, as on a real host.
//
// Everything the lab creates is recorded under its state directory so that
// `down` (also `lab down` from another process after a crash) removes it all.
import { execFileSync } from 'node:child_process';
import { statSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, chmodSync, openSync, closeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, sh, start, sleep, waitFor, type RunResult } from './exec.js';
import { GUEST_PROFILES, linkProfile, wanemSpec, REMOTE_SYSCTLS, type GuestProfile, type LinkProfile } from './profiles.js';
import { startLabXenstored, type LabXenstored } from './xenstore/xenstored.js';
import { XenstoreClient } from '../plugin/src/xen/xenstore.js';
import { writeVifBackend } from '../plugin/src/xen/vif-backend.js';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const STATE_BASE = process.env.XLNET_LAB_STATE ?? '/run/xlnet-lab';

/** Addressing plan. The LAN is the guests' bridged subnet; routed guests get /32s. */
export const NET = {
  lan4: '10.77.0', lan6: 'fd77::',
  dom0_4: '10.77.0.1', dom0_6: 'fd77::1',
  gwLan4: '10.77.0.254', gwLan6: 'fd77::fe',
  routed4: '10.77.1', routed6: 'fd77:1::',
  wan4: '10.78.0', wan6: 'fd78::',
  gwWan4: '10.78.0.1', gwWan6: 'fd78::1',
  remote4: '10.78.0.2', remote6: 'fd78::2',
  bridgeMac: '02:58:4e:00:00:01',
};

export const XFER = join(REPO, 'lab/xfer/build/xfer');
export const XFER_PORT = 5001;

export interface TransferOptions {
  dir: 'up' | 'down';
  size: number | string;
  count?: number;
  parallel?: number;
  ipv6?: boolean;
  port?: number;
  timeoutSec?: number;
}

export interface XferTransfer {
  id: number; dir: string; size: number; fct_ms: number; goodput_mbps: number;
  sha256_sender: string; sha256_receiver: string; bytes_received: number; ok: boolean;
  error?: string; local: string; remote: string; peer_saw: string;
}
export interface XferReport { transfers: XferTransfer[]; summary: Record<string, unknown> }

export interface Daemon { pid: number; socket: string; conf: string; logPath: string; process: import('node:child_process').ChildProcess }

/** Compiles the plugin when a source file is newer than its build (tests use the build, like a host). */
export function ensureBuilt(): void {
  const out = join(REPO, 'plugin/dist/daemon/main.js');
  const newest = (dir: string): number => {
    let m = 0;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      m = Math.max(m, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
    }
    return m;
  };
  if (existsSync(out) && statSync(out).mtimeMs >= newest(join(REPO, 'plugin/src'))) return;
  try {
    execFileSync('npx', ['tsc', '-p', join(REPO, 'plugin/tsconfig.json')], { cwd: REPO, stdio: 'inherit' });
  } catch (e) {
    // tsc still emits when another module has type errors; the build exists unless the compile failed outright.
    if (!existsSync(out)) throw e;
  }
}

/** XLNET_TEST_ENGINE=kernel: the relay engine the lab's correctness suites run
 * with (lab/test/*-kernel.test.ts set it). Every profile of a daemon the lab
 * starts then says `engine = kernel`; the default profile is declared for it. */
export function withTestEngine(conf: string, engine = process.env.XLNET_TEST_ENGINE): string {
  if (!engine || engine === 'user') return conf;
  // Appended at the end of each profile section, so the lines a test's config
  // has keep their numbers up to there (errors name file:line).
  const out: string[] = [];
  let inProfile = false;
  for (const line of conf.replace(/\n$/, '').split('\n')) {
    if (/^\[/.test(line)) {
      if (inProfile) out.push(`engine = ${engine}`);
      inProfile = /^\[profile [^\]]+\]/.test(line);
    }
    out.push(line);
  }
  if (inProfile) out.push(`engine = ${engine}`);
  if (!/^\[profile default\]/m.test(conf)) out.push('[profile default]', `engine = ${engine}`);
  return out.join('\n') + '\n';
}

export type VifMode = 'bridge' | 'route';

export interface GuestSpec {
  domid: number;
  name?: string;
  profile?: 'modern' | 'legacy';
  mode?: VifMode;
  /** the vif's hotplug script; default vif-bridge / vif-route by mode */
  script?: string;
  /** the backend's `localack` key, as xlnet's patched libxl writes it */
  localack?: string;
}

export interface Guest {
  domid: number;
  devid: number;
  name: string;
  ns: string;
  vif: string;
  mode: VifMode;
  ip4: string;
  ip6: string;
  mac: string;
  profile: GuestProfile;
  script: string;
}

export interface LabOptions {
  prefix?: string;
  link?: string;
  /** extra environment given to hotplug scripts (e.g. XLNET_SOCKET) */
  hotplugEnv?: Record<string, string>;
}

export class HotplugError extends Error {
  constructor(readonly vif: string, readonly hotplugError: string | undefined, readonly output: string) {
    super(`hotplug of ${vif} failed${hotplugError ? `: ${hotplugError}` : ''}${output ? `\n${output.trim()}` : ''}`);
  }
}

function nsNames(p: string) {
  return { dom0: `${p}-dom0`, gw: `${p}-gw`, wan: `${p}-wan`, remote: `${p}-remote` };
}

function sysctlScript(sysctls: Record<string, string>): string {
  return Object.entries(sysctls).map(([k, v]) => `sysctl -qw ${k}='${v}'`).join('\n');
}

export class Lab {
  readonly ns: ReturnType<typeof nsNames>;
  readonly dir: string;
  readonly scriptsDir: string;
  readonly binDir: string;
  readonly guests = new Map<number, Guest>();
  xenstored?: LabXenstored;
  xs?: XenstoreClient;
  link: LinkProfile;
  hotplugEnv: Record<string, string>;

  private constructor(readonly prefix: string, opts: LabOptions) {
    this.ns = nsNames(prefix);
    this.dir = join(STATE_BASE, prefix);
    this.scriptsDir = join(this.dir, 'scripts');
    this.binDir = join(this.dir, 'bin');
    this.link = linkProfile(opts.link ?? 'lan');
    this.hotplugEnv = opts.hotplugEnv ?? {};
  }

  /** Brings the whole topology up; on any failure everything created is removed. */
  static async up(opts: LabOptions = {}): Promise<Lab> {
    const prefix = opts.prefix ?? 'xln';
    if (!/^[a-z][a-z0-9]{1,7}$/.test(prefix)) throw new Error(`bad lab prefix '${prefix}': 2-8 lowercase letters/digits`);
    await acquirePrefix(prefix); // one lab per prefix at a time, across processes
    await Lab.down(prefix, { keepClaim: true }); // leftovers of a crashed run; the prefix stays ours
    const lab = new Lab(prefix, opts);
    liveLabs.add(lab);
    takeDownOnSignals();
    try {
      await lab.build();
      return lab;
    } catch (e) {
      await lab.down().catch(() => undefined);
      throw e;
    }
  }

  private async build(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    mkdirSync(join(this.dir, 'pids'), { recursive: true });
    mkdirSync(join(this.dir, 'logs'), { recursive: true });
    const { dom0, gw, wan, remote } = this.ns;
    for (const n of [dom0, gw, wan, remote]) {
      await run(['ip', 'netns', 'add', n]);
      await prepareNamespace(n);
    }
    // Dom0: the bridge with Dom0's own address, the uplink to the gateway.
    await sh(`
      ip link add xenbr0 address ${NET.bridgeMac} type bridge forward_delay 0 stp_state 0
      ip link add uplink0 type veth peer name lan0 netns ${gw}
      ip link set uplink0 master xenbr0 up
      ip link set xenbr0 up
      ip addr add ${NET.dom0_4}/24 dev xenbr0
      ip -6 addr add ${NET.dom0_6}/64 dev xenbr0 nodad
      ip route add default via ${NET.gwLan4}
      ip -6 route add default via ${NET.gwLan6}
      sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
      sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.xenbr0.rp_filter=0
      # Xen hosts run with bridged frames kept out of iptables (xen.md, platform.md)
      if [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]; then
        sysctl -qw net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0 || true
      fi
    `, { ns: dom0 });
    // Gateway: routes between the LAN and the WAN.
    await sh(`
      ip link set lan0 up
      ip addr add ${NET.gwLan4}/24 dev lan0
      ip -6 addr add ${NET.gwLan6}/64 dev lan0 nodad
      ip link add wan0 type veth peer name wana netns ${wan}
      ip link set wan0 up
      ip addr add ${NET.gwWan4}/24 dev wan0
      ip -6 addr add ${NET.gwWan6}/64 dev wan0 nodad
      ip route add ${NET.routed4}.0/24 via ${NET.dom0_4}
      ip -6 route add ${NET.routed6}/64 via ${NET.dom0_6}
      sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
      ethtool -K wan0 tso off gso off gro off >/dev/null 2>&1 || true
    `, { ns: gw });
    // Remote: the servers.
    await sh(`
      ip link add eth0 type veth peer name wanb netns ${wan}
      ip link set eth0 up
      ip addr add ${NET.remote4}/24 dev eth0
      ip -6 addr add ${NET.remote6}/64 dev eth0 nodad
      ip route add default via ${NET.gwWan4}
      ip -6 route add default via ${NET.gwWan6}
      ethtool -K eth0 tso off gso off gro off >/dev/null 2>&1 || true
      ${sysctlScript(REMOTE_SYSCTLS)}
    `, { ns: remote });
    // The emulator's namespace only forwards frames: no addresses, no IPv6 of its own (lab/wanem/README.md).
    await sh(`sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
      sysctl -qw net.ipv6.conf.wana.disable_ipv6=1 net.ipv6.conf.wanb.disable_ipv6=1
      ip link set wana up; ip link set wanb up`, { ns: wan });
    await this.setLink(this.link.name);

    // xenstore, and the hotplug scripts as installed on a host.
    this.xenstored = await startLabXenstored(join(this.dir, 'xenstore'));
    writeFileSync(join(this.dir, 'pids', 'xenstored.pid'), String(this.xenstored.pid));
    this.xs = await XenstoreClient.connect({ path: this.xenstored.socketPath });
    await this.xs.write('/local/domain/0/name', 'Domain-0');
    this.installScripts();
  }

  /** Xen's scripts, copied, with the hook directory pointed at the copy, plus xlnet's. */
  private installScripts(): void {
    rmSync(this.scriptsDir, { recursive: true, force: true });
    cpSync('/etc/xen/scripts', this.scriptsDir, { recursive: true });
    for (const f of ['hotplugpath.sh', 'xen-hotplug-common.sh']) {
      const p = join(this.scriptsDir, f);
      writeFileSync(p, readFileSync(p, 'utf8').replaceAll('/etc/xen/scripts', this.scriptsDir));
    }
    const ours = join(REPO, 'hotplug-scripts');
    if (existsSync(ours)) {
      for (const e of readdirSync(ours, { withFileTypes: true })) {
        if (e.name === 'README.md') continue;
        cpSync(join(ours, e.name), join(this.scriptsDir, e.name), { recursive: true });
      }
    }
    mkdirSync(this.binDir, { recursive: true });
    const xlnet = join(this.binDir, 'xlnet');
    writeFileSync(xlnet, `#!/bin/sh\nexec node ${join(REPO, 'plugin/dist/cli/main.js')} "$@"\n`);
    chmodSync(xlnet, 0o755);
  }

  /** Switches the WAN emulator to another link profile (restarts it). */
  async setLink(name: string): Promise<void> {
    const link = linkProfile(name);
    const { wan } = this.ns;
    await this.killPid('wanem');
    await sh(`ip link del br-wan 2>/dev/null || true`, { ns: wan });
    if (link.unshaped) {
      await sh(`ip link add br-wan type bridge forward_delay 0 stp_state 0
        ip link set wana master br-wan; ip link set wanb master br-wan; ip link set br-wan up`, { ns: wan });
    } else {
      await sh(`ethtool -K wana tso off gso off gro off >/dev/null 2>&1 || true
        ethtool -K wanb tso off gso off gro off >/dev/null 2>&1 || true`, { ns: wan });
      const ready = join(this.dir, 'wanem.ready');
      rmSync(ready, { force: true });
      const log = openSync(join(this.dir, 'logs', 'wanem.log'), 'a');
      // Real-time priority: without it the emulator misses its release times at 1 Gbit/s on 2 busy cores.
      const p = start([...realtimePrefix(), join(REPO, 'lab/wanem/build/wanem'), '--if-a', 'wana', '--if-b', 'wanb',
        '--a2b', wanemSpec(link.up), '--b2a', wanemSpec(link.down), '--ready-file', ready,
        '--stats-file', join(this.dir, 'wanem.stats.json')], { ns: wan, logFile: log });
      closeSync(log);
      writeFileSync(join(this.dir, 'pids', 'wanem.pid'), String(p.pid));
      await waitFor('the WAN emulator to start', () => existsSync(ready), 10_000);
    }
    this.link = link;
  }

  /** Adds a guest and brings its vif up through the hotplug script (like xl create). */
  async addGuest(spec: GuestSpec): Promise<Guest> {
    const devid = 0;
    const mode = spec.mode ?? 'bridge';
    const domid = spec.domid;
    const profile = GUEST_PROFILES[spec.profile ?? 'modern'];
    const host = mode === 'bridge' ? `${NET.lan4}.${10 + domid}` : `${NET.routed4}.${10 + domid}`;
    const ip6 = mode === 'bridge' ? `${NET.lan6}${(0x10 + domid).toString(16)}` : `${NET.routed6}${(0x10 + domid).toString(16)}`;
    const g: Guest = {
      domid, devid, mode, profile, ip4: host, ip6,
      name: spec.name ?? `guest${domid}`,
      ns: `${this.prefix}-g${domid}`,
      vif: `vif${domid}.${devid}`,
      mac: `00:16:3e:00:${(domid >> 8).toString(16).padStart(2, '0')}:${(domid & 0xff).toString(16).padStart(2, '0')}`,
      script: spec.script ?? (mode === 'bridge' ? 'vif-bridge' : 'vif-route'),
    };
    const { dom0 } = this.ns;
    await run(['ip', 'netns', 'add', g.ns]);
    this.guests.set(domid, g);
    await prepareNamespace(g.ns);
    // The netback side of the vif: Xen gives it fe:ff:ff:ff:ff:ff; left down for the script.
    await sh(`
      ip link add ${g.vif} address fe:ff:ff:ff:ff:ff type veth peer name eth0 netns ${g.ns}
      ethtool -K ${g.vif} tso off gso off >/dev/null 2>&1 || true
    `, { ns: dom0 });
    const guestNet = mode === 'bridge'
      ? `ip addr add ${g.ip4}/24 dev eth0
         ip -6 addr add ${g.ip6}/64 dev eth0 nodad
         ip route add default via ${NET.gwLan4}
         ip -6 route add default via ${NET.gwLan6}`
      : `ip addr add ${g.ip4}/32 dev eth0
         ip -6 addr add ${g.ip6}/128 dev eth0 nodad
         ip route add ${NET.dom0_4} dev eth0
         ip route add default via ${NET.dom0_4} dev eth0 onlink
         ip -6 route add ${NET.dom0_6} dev eth0
         ip -6 route add default via ${NET.dom0_6} dev eth0 onlink`;
    await sh(`
      ip link set lo up
      ip link set eth0 address ${g.mac} up
      ${guestNet}
      ${sysctlScript(profile.sysctls)}
    `, { ns: g.ns });
    // What libxl writes before it runs the hotplug script.
    const xs = this.requireXs();
    await xs.write(`/local/domain/${domid}/name`, g.name);
    await writeVifBackend(xs, {
      backendDomid: 0, domid, devid,
      script: join(this.scriptsDir, g.script),
      mac: g.mac,
      bridge: 'xenbr0',
      // vif-route's `ip` takes IPv4 only (it routes with Dom0's IPv4 as source); the IPv6 route is added below.
      ip: mode === 'route' ? [g.ip4] : undefined,
      gatewaydev: mode === 'route' ? 'xenbr0' : undefined,
      localack: spec.localack,
    });
    // netback has connected to the frontend and waits for the script (XenbusStateInitWait)
    await xs.write(`/local/domain/0/backend/vif/${domid}/${devid}/state`, '2');
    await this.hotplug(g, 'online');
    if (mode === 'route') {
      // vif-route adds the IPv4 host routes; Dom0 also answers for the guest on the LAN.
      await sh(`sysctl -qw net.ipv4.conf.xenbr0.proxy_arp=1 || true
        ip -6 route add ${g.ip6}/128 dev ${g.vif}
        # IPv6 has no proxy ARP: Dom0 answers neighbour solicitations for its address on the vif.
        sysctl -qw net/ipv6/conf/${g.vif}/proxy_ndp=1
        ip -6 neigh add proxy ${NET.dom0_6} dev ${g.vif}`, { ns: dom0 });
    }
    return g;
  }

  /** Removes a guest like xl destroy: the vif goes away, then `<script> offline`. */
  async removeGuest(domid: number): Promise<RunResult | undefined> {
    const g = this.guests.get(domid);
    if (!g) throw new Error(`no lab guest with domid ${domid}`);
    await run(['ip', 'link', 'del', g.vif], { ns: this.ns.dom0, allowFail: true });
    let res: RunResult | undefined;
    try {
      res = await this.hotplug(g, 'offline');
    } finally {
      const xs = this.requireXs();
      await xs.rm(`/local/domain/0/backend/vif/${domid}`).catch(() => undefined);
      await xs.rm(`/libxl/${domid}`).catch(() => undefined);
      await xs.rm(`/local/domain/${domid}`).catch(() => undefined);
      await this.killNs(g.ns);
      this.guests.delete(domid);
    }
    return res;
  }

  /** Runs the vif's hotplug script as libxl does (xen.md "Hotplug contract"). */
  async hotplug(g: Guest, action: 'online' | 'offline'): Promise<RunResult> {
    const xs = this.requireXs();
    const bpath = `backend/vif/${g.domid}/${g.devid}`;
    const script = join(this.scriptsDir, g.script);
    const env: NodeJS.ProcessEnv = {
      PATH: `${this.binDir}:/usr/sbin:/usr/bin:/sbin:/bin`,
      script,
      XENBUS_TYPE: 'vif',
      XENBUS_PATH: bpath,
      XENBUS_BASE_PATH: 'backend',
      netdev: g.mode === 'route' ? 'xenbr0' : '',
      vif: g.vif,
      XENSTORED_PATH: this.xenstored!.socketPath,
      ...this.hotplugEnv,
    };
    const res = await run([script, action, 'type_if=vif'], { ns: this.ns.dom0, env, timeoutMs: 40_000, allowFail: true });
    if (action === 'online') {
      const status = await xs.tryRead(`/local/domain/0/${bpath}/hotplug-status`);
      if (res.code !== 0 || status !== 'connected') {
        const err = await xs.tryRead(`/local/domain/0/${bpath}/hotplug-error`);
        throw new HotplugError(g.vif, err, res.stderr + res.stdout);
      }
    }
    return res;
  }

  /** Starts xlnetd in Dom0 (compiled plugin), with the given xlnet.conf text. */
  async startDaemon(confText = '', extraArgs: string[] = []): Promise<Daemon> {
    ensureBuilt();
    const conf = join(this.dir, 'xlnet.conf');
    writeFileSync(conf, withTestEngine(confText));
    const socket = join(this.dir, 'xlnetd.sock');
    const logPath = join(this.dir, 'logs', 'xlnetd.log');
    // Only what this start writes counts: the log is appended to across restarts.
    const from = existsSync(logPath) ? statSync(logPath).size : 0;
    const log = openSync(logPath, 'a');
    const p = start(['node', join(REPO, 'plugin/dist/daemon/main.js'), '--config', conf, '--socket', socket,
      '--state-dir', join(this.dir, 'state'), ...extraArgs], { ns: this.ns.dom0, logFile: log });
    closeSync(log);
    writeFileSync(join(this.dir, 'pids', 'xlnetd.pid'), String(p.pid));
    this.hotplugEnv.XLNET_SOCKET = socket;
    this.hotplugEnv.XLNET_CONF = conf;
    const fresh = () => readFileSync(logPath).subarray(from).toString();
    await waitFor('xlnetd to listen on its control socket', () => {
      if (p.exitCode !== null) throw new Error(`xlnetd exited (${p.exitCode}): ${fresh().slice(-2000)}`);
      return fresh().includes(' ready: ');
    }, 15_000).catch((e: Error) => {
      // waitFor wraps the error: keep the daemon's own words in front
      throw new Error(e.message.replace(/^timed out after \d+ ms waiting for xlnetd to listen on its control socket: /, ''));
    });
    return { pid: p.pid!, socket, conf, logPath, process: p };
  }

  /** Stops xlnetd: SIGTERM (clean) or SIGKILL (a crash). */
  async stopDaemon(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const f = join(this.dir, 'pids', 'xlnetd.pid');
    if (!existsSync(f)) return;
    const pid = Number(readFileSync(f, 'utf8'));
    if (signal === 'SIGKILL') { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    await killAndWait(pid);
    rmSync(f, { force: true });
  }

  /** Starts a long-running helper in a namespace and waits until it listens on `port`. */
  async serve(name: string, ns: string, argv: string[], port: number): Promise<number> {
    const log = openSync(join(this.dir, 'logs', `${name}.log`), 'a');
    const p = start(argv, { ns, logFile: log });
    closeSync(log);
    writeFileSync(join(this.dir, 'pids', `${name}.pid`), String(p.pid));
    await waitFor(`${name} to listen on port ${port}`, async () => {
      if (p.exitCode !== null) throw new Error(`${name} exited (${p.exitCode})`);
      const r = await run(['ss', '-Hltn', `sport = :${port}`], { ns });
      return r.stdout.trim().length > 0;
    }, 10_000);
    return p.pid!;
  }

  /** Runs lab/tools/probe.mjs in a namespace and returns its JSON line. */
  async probe(ns: string, args: string[], timeoutMs = 20_000): Promise<Record<string, unknown>> {
    const r = await run(['node', join(REPO, 'lab/tools/probe.mjs'), ...args], { ns, timeoutMs, allowFail: true });
    try { return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Record<string, unknown>; } catch {
      throw new Error(`probe ${args.join(' ')} printed no result: ${r.stderr || r.stdout}`);
    }
  }

  /** Starts the transfer tool's server on the remote host (idempotent). */
  async startRemoteServer(port = XFER_PORT): Promise<void> {
    const name = `xfer-${port}`;
    if (existsSync(join(this.dir, 'pids', `${name}.pid`))) return;
    const ready = join(this.dir, `${name}.ready`);
    rmSync(ready, { force: true });
    const log = openSync(join(this.dir, 'logs', `${name}.log`), 'a');
    const p = start([XFER, 'serve', '--listen', `[::]:${port}`, '--ready-file', ready, '--cc', 'cubic'], { ns: this.ns.remote, logFile: log });
    closeSync(log);
    writeFileSync(join(this.dir, 'pids', `${name}.pid`), String(p.pid));
    await waitFor('the remote transfer server', () => existsSync(ready), 10_000);
  }

  /** Runs transfers from a guest to the remote server; returns xfer's JSON report. */
  async transfer(domid: number, opts: TransferOptions): Promise<XferReport> {
    const g = this.guest(domid);
    const to = opts.ipv6 ? `[${NET.remote6}]:${opts.port ?? XFER_PORT}` : `${NET.remote4}:${opts.port ?? XFER_PORT}`;
    const argv = [XFER, 'run', '--to', to, '--dir', opts.dir, '--size', String(opts.size),
      '--count', String(opts.count ?? 1), '--parallel', String(opts.parallel ?? 1),
      '--cc', g.profile.cc, '--timeout', String(opts.timeoutSec ?? 120), '--json'];
    const res = await run(argv, { ns: g.ns, allowFail: true, timeoutMs: ((opts.timeoutSec ?? 120) + 30) * 1000 });
    try {
      return JSON.parse(res.stdout) as XferReport;
    } catch {
      throw new Error(`xfer printed no report (exit ${res.code}): ${res.stderr.trim() || res.stdout.trim()}`);
    }
  }

  guest(domid: number): Guest {
    const g = this.guests.get(domid);
    if (!g) throw new Error(`no lab guest with domid ${domid}`);
    return g;
  }

  requireXs(): XenstoreClient {
    if (!this.xs) throw new Error('lab xenstore is not running');
    return this.xs;
  }

  private async killPid(name: string): Promise<void> {
    const f = join(this.dir, 'pids', `${name}.pid`);
    if (!existsSync(f)) return;
    const pid = Number(readFileSync(f, 'utf8'));
    await killAndWait(pid);
    rmSync(f, { force: true });
  }

  private async killNs(ns: string): Promise<void> {
    await killNamespace(ns);
  }

  private downing?: Promise<void>;

  /** Removes everything this lab created (once: a second call waits for the first). */
  down(): Promise<void> {
    this.downing ??= this.takeDown();
    return this.downing;
  }

  private async takeDown(): Promise<void> {
    liveLabs.delete(this);
    await this.xs?.close().catch(() => undefined);
    this.xs = undefined;
    if (this.xenstored) await this.xenstored.stop().catch(() => undefined);
    this.xenstored = undefined;
    await Lab.down(this.prefix);
  }

  /** Removes a lab by prefix, also one left by a crashed process, and gives the prefix up (unless keepClaim). */
  static async down(prefix: string, opts: { keepClaim?: boolean } = {}): Promise<void> {
    const owner = ownerOf(prefix);
    if (owner && owner !== process.pid && alive(owner)) {
      throw new Error(`lab '${prefix}' is in use by process ${owner}; stop that first`);
    }
    const dir = join(STATE_BASE, prefix);
    const pids = join(dir, 'pids');
    if (existsSync(pids)) {
      for (const f of readdirSync(pids)) {
        const pid = Number(readFileSync(join(pids, f), 'utf8'));
        if (pid > 0) await killAndWait(pid);
      }
    }
    const { stdout } = await run(['ip', 'netns', 'list'], { allowFail: true });
    const mine = stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`${prefix}-`));
    for (const n of mine) await killNamespace(n);
    rmSync(dir, { recursive: true, force: true });
    if (!opts.keepClaim) rmSync(ownerFile(prefix), { force: true });
  }
}

/** The labs this process has up: what a signal takes down. */
const liveLabs = new Set<Lab>();
let signalsHandled = false;

/**
 * A test file past its time limit gets SIGTERM (tools/run-tests.mjs), a
 * person's Ctrl-C SIGINT: without a handler the process dies with its
 * namespaces, daemons and WAN emulator left behind until the next run of the
 * same prefix. Installed with the first lab, so other processes keep the
 * default. Every live lab goes down, then the process exits as the signal would.
 */
function takeDownOnSignals(): void {
  if (signalsHandled) return;
  signalsHandled = true;
  const codes = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const;
  for (const sig of Object.keys(codes) as Array<keyof typeof codes>) {
    process.once(sig, () => {
      process.stderr.write(`lab: ${sig}: taking down ${[...liveLabs].map((l) => l.prefix).join(', ') || 'no lab'}\n`);
      void Promise.allSettled([...liveLabs].map((l) => l.down())).finally(() => process.exit(128 + codes[sig]));
    });
  }
}

/** Loopback up, and no IPv6 duplicate address detection: lab addresses are unique and usable at once. */
async function prepareNamespace(ns: string): Promise<void> {
  await sh(`ip link set lo up
    sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0`, { ns });
}

let rtPrefix: string[] | undefined;
/** `chrt -f 1` where real-time scheduling is allowed (not in every container), else nothing. */
function realtimePrefix(): string[] {
  if (rtPrefix) return rtPrefix;
  try {
    execFileSync('chrt', ['-f', '1', 'true'], { stdio: 'ignore' });
    rtPrefix = ['chrt', '-f', '1'];
  } catch {
    process.stderr.write('lab: real-time scheduling not allowed here; the WAN emulator runs at normal priority (less accurate above ~500 Mbit/s)\n');
    rtPrefix = [];
  }
  return rtPrefix;
}

function ownerFile(prefix: string): string {
  return join(STATE_BASE, `${prefix}.owner`);
}

function ownerOf(prefix: string): number | undefined {
  try { return Number(readFileSync(ownerFile(prefix), 'utf8')) || undefined; } catch { return undefined; }
}

/** Waits until no live process owns the prefix, then owns it (a dead owner's claim is taken over). */
async function acquirePrefix(prefix: string, timeoutMs = 15 * 60_000): Promise<void> {
  mkdirSync(STATE_BASE, { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      writeFileSync(ownerFile(prefix), String(process.pid), { flag: 'wx' });
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = ownerOf(prefix);
    if (owner === process.pid) return;
    if (!owner || !alive(owner)) { rmSync(ownerFile(prefix), { force: true }); continue; }
    if (Date.now() > deadline) throw new Error(`lab '${prefix}' stayed in use by process ${owner}`);
    await sleep(500);
  }
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

export async function killAndWait(pid: number, graceMs = 3000): Promise<void> {
  if (!alive(pid)) return;
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(20);
  if (alive(pid)) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    while (alive(pid)) await sleep(20);
  }
}

/** Kills every process inside a namespace, then deletes it. */
export async function killNamespace(ns: string): Promise<void> {
  const { stdout } = await run(['ip', 'netns', 'pids', ns], { allowFail: true });
  for (const p of stdout.split('\n').map(Number).filter((n) => n > 0)) await killAndWait(p);
  await run(['ip', 'netns', 'del', ns], { allowFail: true });
}
