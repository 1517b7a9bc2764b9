// The keeper: a small process that outlives xlnetd and holds what a restart
// must not lose. An upgrade, a crash or an OOM kill of xlnetd closes every fd
// it has; a TCP socket whose last fd closes is reset, and an nft table with
// `flags owner` vanishes with its netlink socket. So the keeper holds a copy
// of each (taken from xlnetd with pidfd_getfd(2): no fd passing protocol):
//
//  - the split connections' sockets (guest leg and WAN leg) and the
//    transparent listener: while nobody relays, the kernel keeps their data
//    and TCP closes the windows; nothing is reset;
//  - the `nft -i` session that owns xlnet's tables: its stdin pipe stays open
//    while the keeper lives, so the established flows' steering stays.
//
// When xlnetd goes without handing over (killed), the keeper at once runs the
// nft commands xlnetd left for that case (the SYN rules go: new connections
// go direct) and waits for the next xlnetd, which takes the copies back. When
// nothing is worth keeping, or nobody came within the grace time, it gives up:
// closes everything (the tables vanish, held sockets are reset), runs the
// clean-up xlnetd registered (policy routes, sysctls) and exits.
//
// Protocol: JSON lines on a unix socket (root only), one client at a time,
// requests answered in order (keeper-protocol.ts).
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as libc from '../ffi/libc.js';
import type { HeldItem, KeeperRequest, KeeperCleanup } from './keeper-protocol.js';
import { LineBuffer } from '../daemon/line-buffer.js';

const run = promisify(execFile);

export interface KeeperOptions {
  socket: string;
  /** how long held flows wait for the next xlnetd */
  graceMs: number;
  nftPath?: string;
  log?: (msg: string) => void;
}

interface Client { sock: net.Socket; pid: number; pidfd: number; bye?: boolean }

function fdOf(s: net.Socket): number {
  return (s as unknown as { _handle: { fd: number } })._handle.fd;
}

export class Keeper {
  private server?: net.Server;
  private held = new Map<string, HeldItem>();
  private client?: Client;
  private onExitNft: string[] = [];
  private cleanup: KeeperCleanup = { argv: [], files: [] };
  private nft?: { proc: ChildProcess; stdin: number; stderr: number };
  private graceTimer?: NodeJS.Timeout;
  private done = false;
  readonly finished: Promise<void>;
  private resolveFinished!: () => void;
  private readonly log: (msg: string) => void;

  constructor(private readonly opts: KeeperOptions) {
    this.log = opts.log ?? ((m) => process.stderr.write(`${new Date().toISOString()} xlnet-keeper[${process.pid}]: ${m}\n`));
    this.finished = new Promise((r) => { this.resolveFinished = r; });
  }

  async listen(): Promise<void> {
    mkdirSync(dirname(this.opts.socket), { recursive: true, mode: 0o755 });
    rmSync(this.opts.socket, { force: true });
    const srv = net.createServer((c) => this.serve(c));
    const old = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => { srv.once('error', reject); srv.listen(this.opts.socket, () => resolve()); });
    } finally {
      process.umask(old);
    }
    chmodSync(this.opts.socket, 0o600);
    this.server = srv;
    // Nobody came at all (the xlnetd that started us died first): do not stay.
    this.armGrace();
  }

  /** Names and fds (in this process) of what is held, for a test or the log. */
  holding(): HeldItem[] { return [...this.held.values()]; }

  private serve(c: net.Socket): void {
    let pid = 0;
    try { pid = libc.peerPid(fdOf(c)); } catch { /* reported below */ }
    if (this.client && !this.client.sock.destroyed) {
      c.end(`${JSON.stringify({ ok: false, error: `the keeper already serves xlnetd pid ${this.client.pid}` })}\n`);
      return;
    }
    let pidfd = -1;
    try { pidfd = libc.pidfdOpen(pid); } catch (e) {
      c.end(`${JSON.stringify({ ok: false, error: `cannot open the client process (pid ${pid}): ${(e as Error).message}` })}\n`);
      return;
    }
    clearTimeout(this.graceTimer);
    const client: Client = { sock: c, pid, pidfd };
    this.client = client;
    this.log(`xlnetd pid ${pid} connected; holding ${this.held.size} item(s)`);
    const lines = new LineBuffer();
    let chain = Promise.resolve();
    c.setEncoding('utf8');
    c.on('error', () => undefined);
    c.on('data', (d: string) => {
      lines.push(d);
      let line: string | undefined;
      while ((line = lines.next()) !== undefined) {
        const request = line;
        chain = chain.then(async () => {
          let res: unknown;
          try { res = { ok: true, result: await this.handle(client, JSON.parse(request) as KeeperRequest) }; } catch (e) {
            res = { ok: false, error: (e as Error).message };
          }
          if (!c.destroyed) c.write(`${JSON.stringify(res)}\n`);
        });
      }
    });
    c.on('close', () => { chain = chain.then(() => this.clientGone(client)); });
  }

  private async handle(client: Client, r: KeeperRequest): Promise<unknown> {
    switch (r.op) {
      case 'hello':
        return { pid: process.pid, held: this.holding(), nft: this.nft ? { stdin: this.nft.stdin, stderr: this.nft.stderr } : null };
      case 'nft':
        this.startNft();
        return { stdin: this.nft!.stdin, stderr: this.nft!.stderr };
      case 'keep':
        for (const it of r.items) {
          const fd = libc.pidfdGetfd(client.pidfd, it.fd);
          const old = this.held.get(it.name);
          if (old) libc.close(old.fd);
          this.held.set(it.name, { name: it.name, fd, meta: it.meta });
        }
        return null;
      case 'drop':
        for (const n of r.names) {
          const h = this.held.get(n);
          if (!h) continue;
          libc.close(h.fd);
          this.held.delete(n);
        }
        return null;
      case 'meta': {
        const h = this.held.get(r.name);
        if (h) h.meta = r.meta;
        return null;
      }
      case 'on-exit':
        this.onExitNft = r.nft;
        return null;
      case 'cleanup':
        this.cleanup = r.cleanup;
        return null;
      case 'bye':
        client.bye = true;
        if (!r.handover || !this.keepsFlows()) await this.giveUp('xlnetd stopped with nothing to hand over');
        return null;
      default:
        throw new Error(`unknown op ${(r as { op: unknown }).op}`);
    }
  }

  private keepsFlows(): boolean {
    for (const n of this.held.keys()) if (n.startsWith('flow/')) return true;
    return false;
  }

  /** `nft -i` with raw pipes: the keeper never reads its stderr (xlnetd does, through its own copy). */
  private startNft(): void {
    if (this.nft && this.nft.proc.exitCode === null) return;
    const [inR, inW] = libc.pipe();
    const [errR, errW] = libc.pipe();
    const proc = spawn(this.opts.nftPath ?? 'nft', ['-i'], { stdio: [inR, 'ignore', errW] });
    libc.close(inR);
    libc.close(errW);
    proc.on('exit', (code, sig) => {
      if (this.nft?.proc !== proc) return;
      this.log(`nft session ended (${sig ?? `exit ${code}`})`);
      libc.close(this.nft.stdin);
      libc.close(this.nft.stderr);
      this.nft = undefined;
    });
    this.nft = { proc, stdin: inW, stderr: errR };
  }

  private async clientGone(client: Client): Promise<void> {
    if (this.client !== client) return;
    libc.close(client.pidfd);
    this.client = undefined;
    if (this.done) return;
    if (!client.bye) {
      // Killed: new connections must go direct now, not wait for the next xlnetd.
      this.runOnExit();
      if (!this.keepsFlows()) { await this.giveUp(`xlnetd pid ${client.pid} went away with no flow to keep`); return; }
      this.log(`xlnetd pid ${client.pid} went away; keeping ${this.held.size} item(s) for the next one`);
    } else {
      this.log(`xlnetd pid ${client.pid} handed over ${this.held.size} item(s)`);
    }
    this.armGrace();
  }

  private runOnExit(): void {
    if (!this.nft || this.onExitNft.length === 0) return;
    // One batch, written whole: xlnetd is gone, nobody else writes this pipe.
    const line = Buffer.from(`${this.onExitNft.join('; ')}\n`);
    for (let off = 0, tries = 0; off < line.length && tries < 1000; tries++) {
      try { off += libc.write(this.nft.stdin, line.subarray(off)); } catch (e) {
        if ((e as libc.SysError).code !== 'EAGAIN') { this.log(`cannot stop new flows: ${(e as Error).message}`); return; }
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
      }
    }
    this.log('new connections go direct (SYN rules removed)');
  }

  private armGrace(): void {
    clearTimeout(this.graceTimer);
    this.graceTimer = setTimeout(() => {
      if (!this.client) this.giveUp(`no xlnetd took over within ${this.opts.graceMs} ms`).catch(() => undefined);
    }, this.opts.graceMs);
  }

  /** Lets everything go: sockets (reset), the nft session (tables vanish), then the clean-up; exits. */
  async giveUp(why: string): Promise<void> {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.graceTimer);
    this.log(`giving up: ${why}; releasing ${this.held.size} item(s)`);
    for (const h of this.held.values()) libc.close(h.fd);
    this.held.clear();
    const nft = this.nft;
    if (nft) {
      const exited = new Promise<void>((r) => { if (nft.proc.exitCode !== null) r(); else nft.proc.once('exit', () => r()); });
      libc.close(nft.stdin);
      this.nft = { ...nft, stdin: -1 };
      const t = setTimeout(() => nft.proc.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(t);
    }
    for (const argv of this.cleanup.argv) {
      await run(argv[0]!, argv.slice(1)).catch((e: Error) => this.log(`clean-up ${argv.join(' ')}: ${e.message.split('\n')[0]}`));
    }
    for (const f of this.cleanup.files) {
      try { writeFileSync(f.path, f.value); } catch (e) { this.log(`clean-up ${f.path}: ${(e as Error).message}`); }
    }
    this.server?.close(); // stops accepting; the client that asked may still read its answer
    rmSync(this.opts.socket, { force: true });
    this.resolveFinished();
  }
}
