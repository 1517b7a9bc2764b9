// Test fixtures for the datapath: a test cgroup, a pair of network namespaces
// joined by a veth (nothing in the root namespace), socket agents placed in
// them, and `ss` readings. Everything made here is removed by cleanup().
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { cgroup2Root, enterCgroup, removeCgroup } from '../../src/datapath/index.js';

export const REPO = new URL('../../../', import.meta.url).pathname;
const AGENT = new URL('./agent.ts', import.meta.url).pathname;

export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function buildObjects(): void {
  execFileSync('make', ['-s', '-C', join(REPO, 'datapath')], { stdio: 'inherit' });
}

/** xlnet objects other processes had loaded before this test file started
 * (any running xlnetd loads its own): ignored by loadedPrograms/loadedMaps. */
const before = { progs: new Set<number>(), maps: new Set<number>() };

function xlnetObjects(kind: 'prog' | 'map'): { id: number; name: string }[] {
  const list = JSON.parse(sh('bpftool', ['-j', kind, 'show'])) as { id: number; name?: string }[];
  return list.filter((o) => (o.name ?? '').startsWith('xlnet_')).map((o) => ({ id: o.id, name: o.name! }));
}
for (const p of xlnetObjects('prog')) before.progs.add(p.id);
for (const m of xlnetObjects('map')) before.maps.add(m.id);

/** Names of the BPF programs this test process loaded (bpftool truncates them to 15 chars). */
export function loadedPrograms(): string[] {
  return xlnetObjects('prog').filter((p) => !before.progs.has(p.id)).map((p) => p.name);
}

export function loadedMaps(): string[] {
  return xlnetObjects('map').filter((m) => !before.maps.has(m.id)).map((m) => m.name);
}

/** A cgroup for one test file, removed (with its processes gone) by remove(). */
export class TestCgroup {
  readonly path = join(cgroup2Root(), `xdp-test-${process.pid}`);
  constructor() { mkdirSync(this.path, { recursive: true }); }
  add(pid: number): void { enterCgroup(this.path, pid); }
  async remove(): Promise<void> {
    for (let i = 0; i < 50 && existsSync(this.path); i++) {
      try { removeCgroup(this.path); } catch { await new Promise((r) => setTimeout(r, 100)); }
    }
    if (existsSync(this.path)) throw new Error(`test cgroup ${this.path} could not be removed`);
  }
}

export const ADDR_A = '10.251.0.1', ADDR_B = '10.251.0.2';

/** xdp-a-PID and xdp-b-PID joined by a veth created inside them. */
export class NetnsPair {
  readonly a = `xdp-a-${process.pid}`;
  readonly b = `xdp-b-${process.pid}`;
  constructor() {
    removeStaleNamespaces();
    sh('ip', ['netns', 'add', this.a]);
    sh('ip', ['netns', 'add', this.b]);
    sh('ip', ['-n', this.a, 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', this.b]);
    sh('ip', ['-n', this.a, 'addr', 'add', `${ADDR_A}/24`, 'dev', 'va']);
    sh('ip', ['-n', this.b, 'addr', 'add', `${ADDR_B}/24`, 'dev', 'vb']);
    for (const [ns, dev] of [[this.a, 'va'], [this.b, 'vb']] as const) {
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      sh('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    }
  }
  remove(): void {
    for (const ns of [this.a, this.b]) {
      try { sh('ip', ['netns', 'del', ns]); } catch { /* already gone */ }
    }
  }
}

/** Namespaces left by an earlier run of this suite that was killed. */
function removeStaleNamespaces(): void {
  let names: string[] = [];
  try { names = readdirSync('/var/run/netns'); } catch { return; }
  for (const n of names) {
    const m = /^xdp-[ab]-(\d+)$/.exec(n);
    if (m && !existsSync(`/proc/${m[1]}`)) {
      try { sh('ip', ['netns', 'del', n]); } catch { /* raced */ }
    }
  }
}

/** A socket agent (agent.ts) in a namespace; skMapFd lets it register its sockets. */
export class Agent {
  private readonly child: ChildProcess;
  private readonly lines: string[] = [];
  private waiter: ((l: string) => void) | undefined;
  pid = 0;

  private constructor(ns: string, skMapFd?: number) {
    const stdio: ('pipe' | 'inherit' | number)[] = ['pipe', 'pipe', 'inherit'];
    if (skMapFd !== undefined) stdio.push(skMapFd);
    this.child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', AGENT], { cwd: REPO, stdio });
    this.child.on('exit', (c, s) => { if (process.env.XDP_DEBUG) console.error('agent exit', c, s); });
    createInterface({ input: this.child.stdout! }).on('line', (l) => {
      if (process.env.XDP_DEBUG) console.error('agent line', l);
      if (this.waiter) { const w = this.waiter; this.waiter = undefined; w(l); } else this.lines.push(l);
    });
  }

  /** Starts an agent; `cgroup` (if given) receives it before it makes any socket. */
  static async start(ns: string, opts: { skMapFd?: number; cgroup?: TestCgroup } = {}): Promise<Agent> {
    const a = new Agent(ns, opts.skMapFd);
    const hello = JSON.parse(await a.next()) as { ready: number };
    a.pid = hello.ready;
    opts.cgroup?.add(a.pid);
    return a;
  }

  private next(): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('agent did not answer in 20 s')), 20_000);
      this.waiter = (line) => { clearTimeout(t); resolve(line); };
    });
  }

  async request<T = Record<string, unknown>>(cmd: object): Promise<T> {
    this.child.stdin!.write(`${JSON.stringify(cmd)}\n`);
    const r = JSON.parse(await this.next()) as { ok?: T; error?: string };
    if (r.error !== undefined) throw new Error(`agent: ${r.error}`);
    return r.ok as T;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGKILL');
    await gone;
  }
}

export interface SsInfo { cc: string; cwnd: number; sndbuf: number; rcvbuf: number }

/** `ss -tinm` of the established socket with local port `port` (and remote
 * port `peerPort`, if given) in `ns`. */
export function ssInfo(ns: string, port: number, peerPort?: number): SsInfo {
  const filter = peerPort === undefined ? `( sport = :${port} )` : `( sport = :${port} and dport = :${peerPort} )`;
  const out = sh('ip', ['netns', 'exec', ns, 'ss', '-tinmH', 'state', 'established', filter]);
  if (out.trim() === '') throw new Error(`ss: no established socket ${port}/${peerPort ?? '*'} in ${ns}`);
  if (process.env.XDP_DEBUG) console.error(out);
  const text = out.replace(/\n\s+/g, ' ');
  const ccs = readFileSync('/proc/sys/net/ipv4/tcp_available_congestion_control', 'utf8').trim().split(/\s+/);
  const tokens = text.split(/\s+/);
  const num = (re: RegExp): number => Number(re.exec(text)?.[1] ?? NaN);
  return {
    cc: tokens.find((t) => ccs.includes(t)) ?? '',
    cwnd: num(/\bcwnd:(\d+)/),
    sndbuf: num(/\btb(\d+)/),
    rcvbuf: num(/\brb(\d+)/),
  };
}

export function defaultCc(ns: string): string {
  return sh('ip', ['netns', 'exec', ns, 'sysctl', '-n', 'net.ipv4.tcp_congestion_control']).trim();
}
