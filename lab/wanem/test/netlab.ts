// The test bench for wanem: three namespaces of our own,
//
//   xwt-a [a0 10.199.1.1] --veth-- [wa  xwt-w  wb] --veth-- [b0 10.199.1.2] xwt-b
//
// with wanem (or, for the base RTT, a kernel bridge) joining wa and wb.
// Nothing here touches the root namespace.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NS_A = 'xwt-a';
export const NS_W = 'xwt-w';
export const NS_B = 'xwt-b';
export const IP_A = '10.199.1.1';
export const IP_B = '10.199.1.2';
export const WANEM_DIR = new URL('..', import.meta.url).pathname;
export const WANEM = join(WANEM_DIR, 'build/wanem');

export interface Result { code: number; stdout: string; stderr: string }

/** Runs argv (in namespace ns if given); throws on a non-zero exit unless allowFail. */
export function run(argv: string[], opts: { ns?: string; allowFail?: boolean; timeoutMs?: number } = {}): Promise<Result> {
  const full = opts.ns ? ['ip', 'netns', 'exec', opts.ns, ...argv] : argv;
  return new Promise((resolve, reject) => {
    execFile(full[0]!, full.slice(1), { encoding: 'utf8', maxBuffer: 64 << 20, timeout: opts.timeoutMs ?? 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        if (err && !opts.allowFail) {
          reject(new Error(`failed (exit ${code}): ${full.join(' ')}\n${stderr || stdout}`));
        } else resolve({ code, stdout, stderr });
      });
  });
}

export const sh = (script: string, ns?: string) => run(['bash', '-euo', 'pipefail', '-c', script], { ns });
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function teardown(): Promise<void> {
  for (const ns of [NS_A, NS_W, NS_B]) await run(['ip', 'netns', 'del', ns], { allowFail: true });
}

/** Builds the three namespaces. Offloads off on every veth end (see README). */
export async function setup(): Promise<void> {
  await teardown();
  for (const ns of [NS_A, NS_W, NS_B]) {
    await run(['ip', 'netns', 'add', ns]);
    await sh(`ip link set lo up
      sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1`, ns);
  }
  await sh(`ip link add a0 netns ${NS_A} type veth peer name wa netns ${NS_W}
    ip link add b0 netns ${NS_B} type veth peer name wb netns ${NS_W}`);
  for (const [ns, dev] of [[NS_A, 'a0'], [NS_W, 'wa'], [NS_W, 'wb'], [NS_B, 'b0']] as const) {
    await sh(`ip link set ${dev} up
      ethtool -K ${dev} tso off gso off gro off >/dev/null`, ns);
  }
  await sh(`ip addr add ${IP_A}/24 dev a0`, NS_A);
  await sh(`ip addr add ${IP_B}/24 dev b0`, NS_B);
  // Static neighbours: emulated loss must not hit ARP and stall a measurement.
  const mac = async (ns: string, dev: string) =>
    JSON.parse((await run(['ip', '-j', 'link', 'show', dev], { ns })).stdout)[0].address as string;
  await sh(`ip neigh replace ${IP_B} lladdr ${await mac(NS_B, 'b0')} dev a0 nud permanent`, NS_A);
  await sh(`ip neigh replace ${IP_A} lladdr ${await mac(NS_A, 'a0')} dev b0 nud permanent`, NS_B);
  // Window big enough for 1 Gbit/s over the longest test RTT (autotuning).
  for (const ns of [NS_A, NS_B]) {
    await sh(`sysctl -qw net.ipv4.tcp_rmem="4096 131072 67108864" net.ipv4.tcp_wmem="4096 16384 67108864"`, ns);
  }
}

/** Joins wa and wb with a kernel bridge (the wire without an emulator). */
export async function withBridge<T>(fn: () => Promise<T>): Promise<T> {
  await sh(`ip link add xwtbr type bridge
    ip link set wa master xwtbr
    ip link set wb master xwtbr
    ip link set xwtbr up`, NS_W);
  try {
    return await fn();
  } finally {
    await run(['ip', 'link', 'del', 'xwtbr'], { ns: NS_W, allowFail: true });
  }
}

export interface DirStats {
  frames: number; bytes: number; dropped_queue: number; dropped_loss: number; max_queue_bytes: number;
  received: number; dropped_overrun: number; dropped_oversize: number; dropped_malformed: number;
  tx_errors: number; rx_kernel_drops: number; gso_frames: number; rx_untimed: number;
  rate_bps: number; delay_ns: number; queue_limit_bytes: number;
}
export interface Stats { seed: number; a2b: DirStats; b2a: DirStats }

/** A running wanem in xwt-w between wa (a) and wb (b). */
export class Wanem {
  private constructor(readonly child: ChildProcess, readonly pid: number, readonly dir: string, private stderr: string[]) {}

  /** realtime: run under `chrt -f 1` (SCHED_FIFO), as README recommends for >= 1 Gbit/s. */
  static async start(a2b: string, b2a: string, extra: string[] = [], realtime = false): Promise<Wanem> {
    const dir = mkdtempSync(join(tmpdir(), 'xwt-wanem-'));
    const ready = join(dir, 'ready');
    const child = spawn('ip', ['netns', 'exec', NS_W, ...(realtime ? ['chrt', '-f', '1'] : []), WANEM, '--if-a', 'wa', '--if-b', 'wb', '--a2b', a2b, '--b2a', b2a,
      '--ready-file', ready, '--stats-file', join(dir, 'stats.json'), ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
    const stderr: string[] = [];
    child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
    const deadline = Date.now() + 5000;
    while (!existsSync(ready)) {
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`wanem did not become ready (exit ${child.exitCode}): ${stderr.join('')}`);
      }
      await sleep(20);
    }
    const pid = Number(readFileSync(ready, 'utf8').trim());
    return new Wanem(child, pid, dir, stderr);
  }

  get statsFile(): string { return join(this.dir, 'stats.json'); }
  get log(): string { return this.stderr.join(''); }

  /** SIGUSR1: stats without stopping. */
  async stats(): Promise<Stats> {
    rmSync(this.statsFile, { force: true });
    process.kill(this.pid, 'SIGUSR1');
    for (let i = 0; i < 100 && !existsSync(this.statsFile); i++) await sleep(20);
    return JSON.parse(readFileSync(this.statsFile, 'utf8')) as Stats;
  }

  /** SIGTERM, wait for the exit, return the final stats. */
  async stop(): Promise<Stats> {
    const exited = new Promise<number | null>((r) => {
      if (this.child.exitCode !== null) r(this.child.exitCode);
      else this.child.once('exit', (code) => r(code));
    });
    process.kill(this.pid, 'SIGTERM');
    const code = await exited;
    try {
      if (code !== 0) throw new Error(`wanem exited with ${code}: ${this.log}`);
      return JSON.parse(readFileSync(this.statsFile, 'utf8')) as Stats;
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  /** For finally blocks: make sure it is gone. */
  kill(): void {
    if (this.child.exitCode === null) {
      try { process.kill(this.pid, 'SIGKILL'); } catch { /* already gone */ }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Runs fn with a wanem; stops it and returns fn's result plus the final stats. */
  static async with<T>(a2b: string, b2a: string, fn: (w: Wanem) => Promise<T>, extra: string[] = [],
    realtime = false): Promise<{ result: T; stats: Stats }> {
    const w = await Wanem.start(a2b, b2a, extra, realtime);
    try {
      const result = await fn(w);
      return { result, stats: await w.stop() };
    } finally {
      w.kill();
    }
  }
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };
export { median };

/** Median ping RTT a -> b in ms. */
export async function pingRtt(count: number, intervalS = 0.05): Promise<number> {
  const { stdout } = await run(['ping', '-n', '-c', String(count), '-i', String(intervalS), '-W', '5', IP_B], { ns: NS_A, timeoutMs: 60_000 });
  const rtts = [...stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  if (rtts.length < count * 0.8) throw new Error(`ping: only ${rtts.length}/${count} replies:\n${stdout}`);
  return median(rtts);
}

let nextPort = 5210;

/** iperf3 from a to b; returns the parsed -J output. Server killed by pid at the end. */
export async function iperf(args: string[], timeoutMs = 60_000): Promise<any> {
  const port = String(nextPort++);
  const server = spawn('ip', ['netns', 'exec', NS_B, 'iperf3', '-s', '-1', '-p', port], { stdio: 'ignore' });
  try {
    await sleep(300);
    const { stdout } = await run(['iperf3', '-c', IP_B, '-p', port, '-J', ...args], { ns: NS_A, allowFail: true, timeoutMs });
    const out = JSON.parse(stdout);
    if (out.error) throw new Error(`iperf3: ${out.error}`);
    return out;
  } finally {
    if (server.exitCode === null) server.kill('SIGKILL');
  }
}

/** Sends count numbered UDP datagrams a -> b at pps; returns which ones arrived, as loss runs. */
export async function udpSequence(count: number, pps: number): Promise<{ received: number; runs: [number, number][] }> {
  const tool = join(WANEM_DIR, 'build/udpseq');
  const port = String(nextPort++);
  const recv = run([tool, 'recv', port, String(count)], { ns: NS_B, timeoutMs: 120_000 });
  await sleep(300);
  await run([tool, 'send', IP_B, port, String(count), String(pps)], { ns: NS_A, timeoutMs: 120_000 });
  return JSON.parse((await recv).stdout);
}

/** Counters of the kernel in ns (nstat), since the last call. */
export async function nstat(ns: string): Promise<Record<string, number>> {
  const { stdout } = await run(['nstat', '-a', '-j'], { ns });
  const j = JSON.parse(stdout);
  return (j.kernel ?? j) as Record<string, number>;
}
