// The one client of xlnetd's control socket, used by the CLI and the hotplug path.
import net from 'node:net';
import { PROTOCOL_VERSION, type ErrorCode, type Request, type Response } from './protocol.js';
import { LineBuffer } from './line-buffer.js';

export const DEFAULT_SOCKET = '/run/xlnet/xlnetd.sock';

export class ControlError extends Error {
  constructor(readonly code: ErrorCode | 'E_UNREACHABLE' | 'E_TIMEOUT' | 'E_PROTOCOL', message: string) {
    super(message);
  }
}

export interface ClientOptions {
  socket?: string;
  timeoutMs?: number;
}

/** The socket path: explicit, else $XLNET_SOCKET, else the default. */
export function socketPath(explicit?: string): string {
  // An empty XLNET_SOCKET counts as unset (as a shell's `XLNET_SOCKET= cmd` means).
  return explicit ?? (process.env.XLNET_SOCKET || DEFAULT_SOCKET);
}

export class ControlClient {
  private nextId = 1;
  private lines = new LineBuffer();
  private pending = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  private constructor(private readonly sock: net.Socket, readonly path: string, private readonly timeoutMs: number) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => this.onData(d));
    sock.on('close', () => this.failAll(new ControlError('E_UNREACHABLE', `xlnetd closed the connection (${path})`)));
    sock.on('error', () => undefined);
  }

  static connect(opts: ClientOptions = {}): Promise<ControlClient> {
    const path = socketPath(opts.socket);
    const timeoutMs = opts.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const sock = net.connect(path);
      const timer = setTimeout(() => { sock.destroy(); reject(new ControlError('E_TIMEOUT', `xlnetd did not answer on ${path} within ${timeoutMs} ms`)); }, timeoutMs);
      sock.once('connect', () => { clearTimeout(timer); resolve(new ControlClient(sock, path, timeoutMs)); });
      sock.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const why = e.code === 'ENOENT' ? 'no such socket: is xlnetd running? (systemctl status xlnetd)'
          : e.code === 'ECONNREFUSED' ? 'connection refused: xlnetd is not running'
          : e.code === 'EACCES' ? 'permission denied: the control socket is root only (use sudo)'
          : e.message;
        reject(new ControlError('E_UNREACHABLE', `cannot reach xlnetd at ${path}: ${why}`));
      });
    });
  }

  /** Sends one request; resolves with the result or rejects with the daemon's error. */
  request<T = unknown>(req: Request): Promise<T> {
    const id = this.nextId++;
    const line = `${JSON.stringify({ v: PROTOCOL_VERSION, id, ...req })}\n`;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ControlError('E_TIMEOUT', `xlnetd did not answer '${req.op}' within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve: resolve as (r: unknown) => void, reject, timer });
      this.sock.write(line);
    });
  }

  private onData(d: string): void {
    this.lines.push(d);
    let line: string | undefined;
    while ((line = this.lines.next()) !== undefined) {
      let res: Response;
      try { res = JSON.parse(line) as Response; } catch {
        this.failAll(new ControlError('E_PROTOCOL', `xlnetd sent something that is not JSON: ${line.slice(0, 80)}`));
        return;
      }
      const p = typeof res.id === 'number' ? this.pending.get(res.id) : undefined;
      if (!p) continue;
      this.pending.delete(res.id as number);
      clearTimeout(p.timer);
      if (res.ok) p.resolve(res.result);
      else p.reject(new ControlError(res.error.code, res.error.message));
    }
  }

  private failAll(e: Error): void {
    for (const [, p] of this.pending) { clearTimeout(p.timer); p.reject(e); }
    this.pending.clear();
  }

  /** Closes at once: a daemon that never answers must not keep the caller alive. */
  close(): void {
    this.sock.destroy();
  }
}

/** Connects, sends one request, closes. */
export async function call<T = unknown>(req: Request, opts: ClientOptions = {}): Promise<T> {
  const c = await ControlClient.connect(opts);
  try {
    return await c.request<T>(req);
  } finally {
    c.close();
  }
}
