// steering/: renders and applies the nftables rules that divert guests' TCP to
// xlnetd, and removes exactly what it added.
//
// NftSession keeps one `nft -i` process for the daemon's lifetime. xlnet's
// tables are created with `flags owner`, so the kernel removes them when that
// process's netlink socket closes: once nobody holds its stdin, every
// diversion disappears at once and guests' new connections go direct
// (fail-open), with nothing left to clean up by hand. Either xlnetd spawns the
// process itself (start), or the keeper does and xlnetd writes to its pipes
// (attach): then the tables outlive xlnetd as long as the keeper holds the
// session, so split flows keep their steering across a restart.
import net from 'node:net';
import { spawn } from 'node:child_process';

export class NftError extends Error {
  constructor(readonly command: string, readonly detail: string) {
    super(`nft rejected: ${command}\n${detail}`);
  }
}

interface Pending { command: string; seq: number; resolve: () => void; reject: (e: Error) => void }

/**
 * nft -i prints nothing on success and its "new generation" echo is not
 * reliable for batches, so every command is followed by a marker command that
 * always fails the same way (listing a table that cannot exist). When the
 * marker's error shows on stderr, the command before it has been committed
 * or has failed; whatever stderr said before the marker is that failure.
 */
const MARKER = 'xlnetack';

export class NftSession {
  private stdin?: NodeJS.WritableStream & { end(): void };
  private stderr?: NodeJS.ReadableStream;
  private child?: import('node:child_process').ChildProcess;
  private queue: Pending[] = [];
  private current?: Pending;
  private seq = 0;
  private errBuf = '';
  private closedError?: Error;
  onExit?: (reason: string) => void;

  constructor(private readonly nftPath = 'nft') {}

  start(): void {
    const p = spawn(this.nftPath, ['-i'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = p;
    p.stdout.resume(); // nothing useful is printed there without -e
    this.wire(p.stdin, p.stderr);
    p.on('error', (e) => this.fail(new Error(`cannot run nft: ${e.message}`)));
    p.on('exit', (code, sig) => this.fail(new Error(`nft session ended (${sig ?? `exit ${code}`})`)));
  }

  /**
   * Talks to an `nft -i` another process runs (the keeper), through this
   * process's own copies of its stdin and stderr pipes. Whatever that session
   * printed before (the keeper's batches while no xlnetd read it) is skipped:
   * the first command waits for a marker of its own.
   */
  attach(stdinFd: number, stderrFd: number): void {
    const stdin = new net.Socket({ fd: stdinFd, readable: false, writable: true });
    const stderr = new net.Socket({ fd: stderrFd, readable: true, writable: false });
    stdin.on('error', (e) => this.fail(new Error(`nft session: ${e.message}`)));
    stderr.on('end', () => this.fail(new Error('nft session ended (its stderr closed)')));
    stderr.on('error', (e) => this.fail(new Error(`nft session: ${e.message}`)));
    this.wire(stdin, stderr);
    this.syncing = `${MARKER}sync${process.pid}x${Date.now()}`;
    stdin.write(`list table netdev ${this.syncing}\n`);
  }

  private syncing?: string;

  private wire(stdin: NodeJS.WritableStream & { end(): void }, stderr: NodeJS.ReadableStream): void {
    this.stdin = stdin;
    this.stderr = stderr;
    stderr.setEncoding('utf8');
    stderr.on('data', (d: string) => this.onStderr(d));
  }

  get alive(): boolean { return !!this.stdin && !this.closedError; }

  /** Runs one single-line nft command (several, separated by ';', form one atomic batch). */
  run(command: string): Promise<void> {
    if (command.includes('\n')) throw new Error('nft session commands are single lines');
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      this.queue.push({ command, seq: ++this.seq, resolve, reject });
      this.pump();
    });
  }

  /** Runs several commands in order; stops at the first error. */
  async runAll(commands: string[]): Promise<void> {
    for (const c of commands) await this.run(c);
  }

  /** Runs several commands as one atomic batch. */
  atomically(commands: string[]): Promise<void> {
    return this.run(commands.join('; '));
  }

  private pump(): void {
    if (this.current || !this.stdin || this.syncing) return;
    const next = this.queue.shift();
    if (!next) return;
    this.current = next;
    this.stdin.write(`${next.command}\nlist table netdev ${MARKER}${next.seq}\n`);
  }

  private onStderr(d: string): void {
    if (process.env.XLNET_NFT_DEBUG) process.stderr.write(`[nft] ${d}`);
    this.errBuf += d;
    if (this.syncing) {
      const at = this.errBuf.indexOf(`list table netdev ${this.syncing}`);
      if (at < 0) return;
      const lineEnd = this.errBuf.indexOf('\n', this.errBuf.indexOf('\n', at) + 1);
      if (lineEnd < 0) return;
      this.errBuf = this.errBuf.slice(lineEnd + 1);
      this.syncing = undefined;
      this.pump();
    }
    const c = this.current;
    if (!c) return;
    const tag = `${MARKER}${c.seq}`;
    const at = this.errBuf.indexOf(`list table netdev ${tag}`);
    if (at < 0) return;
    // The marker's own error is "Error: ...\n<command>\n<carets>\n"; drop it.
    const lineEnd = this.errBuf.indexOf('\n', this.errBuf.indexOf('\n', at) + 1);
    if (lineEnd < 0) return; // wait for the caret line
    const before = this.errBuf.slice(0, at);
    const markerErr = before.lastIndexOf('Error:');
    const own = before.slice(0, markerErr >= 0 ? markerErr : before.length).trim();
    this.errBuf = this.errBuf.slice(lineEnd + 1);
    this.current = undefined;
    if (own.includes('Error')) c.reject(new NftError(c.command, own));
    else c.resolve();
    this.pump();
  }

  private fail(e: Error): void {
    if (this.closedError) return;
    this.closedError = e;
    const all = [...(this.current ? [this.current] : []), ...this.queue];
    this.current = undefined;
    this.queue = [];
    for (const c of all) c.reject(e);
    this.onExit?.(e.message);
  }

  /** Ends the session: the kernel removes the owned tables with it (attached:
   * only this process's end is closed; the keeper decides for its own). */
  async close(): Promise<void> {
    const p = this.child;
    if (!p) {
      this.stdin?.end();
      (this.stderr as net.Socket | undefined)?.destroy();
      this.fail(new Error('nft session closed'));
      return;
    }
    if (p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.stdin!.end();
      setTimeout(() => p.kill('SIGKILL'), 2000).unref();
    });
  }
}
