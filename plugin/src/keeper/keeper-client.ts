// xlnetd's side of the keeper (keeper.ts): finds or starts the keeper, hands
// it copies of what must outlive xlnetd, and takes back what a previous
// xlnetd left. Requests are answered in order; `keep` and `drop` are sent
// without waiting (their order on the socket is their order in the keeper).
import net from 'node:net';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as libc from '../ffi/libc.js';
import type { HelloResult, HeldItem, KeeperCleanup, KeeperRequest } from './keeper-protocol.js';
import { LineBuffer } from '../daemon/line-buffer.js';

/** The keeper's entry point next to this module: compiled, or the source when
 * xlnetd itself runs from source (tsx: its execArgv carry the loader). */
const HERE = dirname(fileURLToPath(import.meta.url));
const MAIN = existsSync(join(HERE, 'main.js')) ? join(HERE, 'main.js') : join(HERE, 'main.ts');

export class KeeperError extends Error {
  readonly code = 'E_KEEPER';
}

export interface KeeperStart {
  /** seconds held flows wait for the next xlnetd */
  graceSec: number;
  /** where the keeper's log lines go (an fd: xlnetd's own stderr by default) */
  logFd?: number;
}

export class KeeperClient {
  private lines = new LineBuffer();
  private waiting: Array<{ resolve: (v: unknown) => void; reject: (e: Error) => void }> = [];
  private closed = false;
  /** the keeper process, for pidfd_getfd */
  private pidfd = -1;
  onClose?: () => void;

  private constructor(private readonly sock: net.Socket, readonly path: string) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => this.onData(d));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      this.closed = true;
      for (const w of this.waiting.splice(0)) w.reject(new KeeperError(`the keeper at ${path} closed the connection`));
      if (this.pidfd >= 0) { libc.close(this.pidfd); this.pidfd = -1; }
      this.onClose?.();
    });
  }

  /** Connects to the keeper at `path`; starts one there when none answers. */
  static async open(path: string, start: KeeperStart): Promise<{ keeper: KeeperClient; hello: HelloResult }> {
    let sock = await tryConnect(path);
    if (!sock) {
      const child = spawn(process.execPath, [...process.execArgv, MAIN, '--socket', path, '--grace', String(start.graceSec)], {
        detached: true, stdio: ['ignore', start.logFd ?? 2, start.logFd ?? 2],
      });
      child.unref();
      for (let i = 0; i < 200 && !sock; i++) {
        await new Promise((r) => setTimeout(r, 25));
        if (child.exitCode !== null) throw new KeeperError(`the keeper exited at start (${child.exitCode})`);
        sock = await tryConnect(path);
      }
      if (!sock) throw new KeeperError(`the keeper did not listen on ${path} within 5 s`);
    }
    const k = new KeeperClient(sock, path);
    const hello = await k.request<HelloResult>({ op: 'hello' });
    k.pidfd = libc.pidfdOpen(hello.pid);
    return { keeper: k, hello };
  }

  get alive(): boolean { return !this.closed; }

  /** This process's own copy of an fd the keeper holds (close-on-exec; the caller owns it). */
  take(keeperFd: number): number {
    if (this.pidfd < 0) throw new KeeperError('not connected to the keeper');
    return libc.pidfdGetfd(this.pidfd, keeperFd);
  }

  /** The keeper's nft session, as this process's own pipe fds [stdin, stderr]. */
  async nftPipes(): Promise<[number, number]> {
    const r = await this.request<{ stdin: number; stderr: number }>({ op: 'nft' });
    return [this.take(r.stdin), this.take(r.stderr)];
  }

  keep(items: HeldItem[]): Promise<void> { return this.request({ op: 'keep', items }); }
  drop(names: string[]): Promise<void> { return this.request({ op: 'drop', names }); }
  meta(name: string, meta: unknown): Promise<void> { return this.request({ op: 'meta', name, meta }); }
  onExit(nft: string[]): Promise<void> { return this.request({ op: 'on-exit', nft }); }
  cleanup(c: KeeperCleanup): Promise<void> { return this.request({ op: 'cleanup', cleanup: c }); }
  /** Leaves: with handover the keeper keeps the flows for the next xlnetd; else it lets all go first. */
  async bye(handover: boolean): Promise<void> {
    await this.request({ op: 'bye', handover });
    this.sock.end();
  }

  request<T = void>(r: KeeperRequest): Promise<T> {
    if (this.closed) return Promise.reject(new KeeperError(`the keeper at ${this.path} is gone`));
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ resolve: resolve as (v: unknown) => void, reject });
      this.sock.write(`${JSON.stringify(r)}\n`);
    });
  }

  private onData(d: string): void {
    this.lines.push(d);
    let line: string | undefined;
    while ((line = this.lines.next()) !== undefined) {
      const w = this.waiting.shift();
      if (!w) continue;
      let m: { ok: boolean; result?: unknown; error?: string };
      try { m = JSON.parse(line) as typeof m; } catch { w.reject(new KeeperError(`the keeper sent a line that is not JSON: ${line.slice(0, 100)}`)); continue; }
      if (m.ok) w.resolve(m.result);
      else w.reject(new KeeperError(`keeper: ${m.error ?? 'refused'}`));
    }
  }
}

function tryConnect(path: string): Promise<net.Socket | undefined> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    s.once('connect', () => { s.removeAllListeners('error'); resolve(s); });
    s.once('error', () => resolve(undefined));
  });
}
