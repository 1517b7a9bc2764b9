// The control server: xlnetd's end of the control protocol (protocol.ts) on
// a Unix socket only root can use. It parses and checks each request line,
// answers in order per connection, and hands the checked request to the
// daemon's operations (ControlOps); it holds no daemon state itself. A
// request refused with a RequestError (or an invalid configuration) is
// answered with its code; anything else is E_INTERNAL and logged.
import net from 'node:net';
import { chmodSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError } from '../config/index.js';
import { RequestError } from './request-error.js';
import {
  MAX_REQUEST_BYTES, OPS, PROTOCOL_VERSION,
  type AttachmentInfo, type DetachMode, type ErrorCode, type FlowInfo, type Options, type Request, type StatusInfo,
} from './protocol.js';
import type { Logger } from './log.js';
import { LineBuffer } from './line-buffer.js';

/** Control connections at most (the one idle the longest makes room for a new one). */
const CONTROL_CLIENTS = 64;
/** Requests taken ahead of their answers, per connection. */
const CONTROL_QUEUE = 16;
/** Answer bytes a client may leave unread before its requests stop being read. */
const CONTROL_UNREAD = 1024 * 1024;

/** What the control protocol's operations do (the daemon implements them). */
export interface ControlOps {
  hello(): { version: string; protocol: number };
  status(): StatusInfo;
  list(): AttachmentInfo[];
  attach(vif: string, profile: string | undefined, options: Options | undefined, domain: string | undefined, required: boolean): Promise<AttachmentInfo>;
  detach(vif: string, mode: DetachMode): Promise<AttachmentInfo>;
  set(vif: string, profile: string | undefined, options: Options | undefined): Promise<AttachmentInfo>;
  flows(vif: string | undefined): FlowInfo[];
  reload(): { profiles: string[] };
}

export class ControlServer {
  private server?: net.Server;
  /** open control connections: a stop must not wait for them (`xlnet top` stays connected) */
  private readonly clients = new Set<net.Socket>();
  private readonly state = new WeakMap<net.Socket, { pending: number; last: number }>();

  constructor(readonly path: string, private readonly ops: ControlOps, private readonly log: Logger) {}

  /** Refuses to start next to a live xlnetd; removes a stale socket file of a dead one. */
  async checkNotRunning(): Promise<void> {
    if (!existsSync(this.path)) return;
    const alive = await new Promise<boolean>((r) => {
      const c = net.connect(this.path);
      c.once('connect', () => { c.destroy(); r(true); });
      c.once('error', () => r(false));
    });
    if (alive) throw new Error(`another xlnetd is already listening on ${this.path}`);
    rmSync(this.path, { force: true });
  }

  async listen(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o755 });
    const srv = net.createServer((c) => this.serve(c));
    // The socket is created 0600 (the umask), never briefly open to others.
    const old = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => { srv.once('error', reject); srv.listen(this.path, () => resolve()); });
    } finally {
      process.umask(old);
    }
    chmodSync(this.path, 0o600);
    this.server = srv;
  }

  /** Stops listening, drops open connections and removes the socket file. */
  async close(): Promise<void> {
    const srv = this.server;
    const closed = new Promise<void>((r) => (srv ? srv.close(() => r()) : r()));
    for (const c of this.clients) c.destroy();
    await closed;
    if (srv) rmSync(this.path, { force: true });
  }

  /**
   * One control connection. Its memory is bounded: requests are taken only
   * while fewer than CONTROL_QUEUE wait for their answer and the client has
   * read its answers down to CONTROL_UNREAD bytes; otherwise the connection is
   * not read (the client's writes block: backpressure). At most
   * CONTROL_CLIENTS connections: a new one closes the one idle the longest,
   * so `xlnet` always gets in.
   */
  private serve(c: net.Socket): void {
    if (this.clients.size >= CONTROL_CLIENTS) {
      const idle = [...this.clients].filter((x) => (this.state.get(x)?.pending ?? 0) === 0)
        .sort((a, b) => (this.state.get(a)?.last ?? 0) - (this.state.get(b)?.last ?? 0));
      if (idle[0]) idle[0].destroy();
      else { c.end(`${JSON.stringify(failure(null, 'E_BUSY', `${CONTROL_CLIENTS} control connections are busy; try again`))}\n`); return; }
    }
    this.clients.add(c);
    const st = { pending: 0, last: Date.now() };
    this.state.set(c, st);
    let gone = false;
    c.on('close', () => { gone = true; this.clients.delete(c); });
    const lines = new LineBuffer();
    let chain = Promise.resolve();
    const throttle = () => {
      const full = st.pending >= CONTROL_QUEUE || c.writableLength > CONTROL_UNREAD || lines.length > MAX_REQUEST_BYTES;
      if (full && !c.isPaused()) c.pause();
      else if (!full && c.isPaused() && !c.destroyed) c.resume();
    };
    // Takes complete lines off the buffer while the queue has room; the rest waits there.
    const pump = () => {
      let line: string | undefined;
      while (st.pending < CONTROL_QUEUE && (line = lines.next()) !== undefined) {
        if (!line.trim()) continue;
        const request = line;
        st.pending++;
        // Requests on one connection are answered in order.
        chain = chain.then(async () => {
          const res = await this.handleLine(request);
          if (gone || c.destroyed || c.readableEnded) await this.undoIfGone(request, res);
          if (!c.destroyed) c.write(`${JSON.stringify(res)}\n`);
          st.pending--;
          st.last = Date.now();
          pump();
        });
      }
      throttle();
    };
    c.on('drain', throttle);
    c.setEncoding('utf8');
    c.on('error', () => undefined);
    c.on('data', (d: string) => {
      st.last = Date.now();
      lines.push(d);
      if (lines.length > MAX_REQUEST_BYTES && !lines.hasLine()) {
        c.end(`${JSON.stringify(failure(null, 'E_TOO_LARGE', `request longer than ${MAX_REQUEST_BYTES} bytes`))}\n`);
        lines.clear();
        return;
      }
      pump();
    });
  }

  /** An attach with undoIfGone whose requester left before the answer: undone (protocol.ts). */
  private async undoIfGone(line: string, res: unknown): Promise<void> {
    let req: Record<string, unknown>;
    try { req = JSON.parse(line) as Record<string, unknown>; } catch { return; }
    if (req.op !== 'attach' || req.undoIfGone !== true || typeof req.vif !== 'string') return;
    if (!(res as { ok?: boolean }).ok) return;
    this.log.warn(`${req.vif}: the requester of this attach gave up before the answer (a hotplug timeout?): detaching again`);
    try { await this.ops.detach(req.vif, 'reset'); } catch (e) { this.log.warn(`${req.vif}: undoing the attach failed: ${(e as Error).message}`); }
  }

  /** One request line in, its response object out. */
  async handleLine(line: string): Promise<unknown> {
    let msg: unknown;
    if (line.length > MAX_REQUEST_BYTES) return failure(null, 'E_TOO_LARGE', `request longer than ${MAX_REQUEST_BYTES} bytes`);
    try { msg = JSON.parse(line); } catch { return failure(null, 'E_PARSE', 'request is not valid JSON'); }
    if (!msg || typeof msg !== 'object' || Array.isArray(msg)) return failure(null, 'E_BAD_REQUEST', 'request must be a JSON object');
    const m = msg as Record<string, unknown>;
    const id = m.id;
    if (m.v !== PROTOCOL_VERSION) return failure(id, 'E_VERSION', `protocol version ${JSON.stringify(m.v)} not supported (this xlnetd speaks ${PROTOCOL_VERSION})`);
    if (typeof m.op !== 'string') return failure(id, 'E_BAD_REQUEST', "missing 'op'");
    if (!(OPS as readonly string[]).includes(m.op)) return failure(id, 'E_UNKNOWN_OP', `unknown op '${m.op}' (known: ${OPS.join(', ')})`);
    try {
      const result = await this.dispatch(m as unknown as Request & Record<string, unknown>);
      return { v: PROTOCOL_VERSION, id, ok: true, result };
    } catch (e) {
      if (e instanceof RequestError) return failure(id, e.code, e.message);
      if (e instanceof ConfigError) return failure(id, 'E_BAD_REQUEST', e.message);
      this.log.error(`request ${m.op} failed: ${(e as Error).stack ?? e}`);
      return failure(id, 'E_INTERNAL', (e as Error).message);
    }
  }

  private async dispatch(r: Request & Record<string, unknown>): Promise<unknown> {
    const str = (k: string, optional = false): string | undefined => {
      const v = r[k];
      if (v === undefined && optional) return undefined;
      if (typeof v !== 'string' || !v) throw new RequestError('E_BAD_REQUEST', `'${k}' must be a non-empty string`);
      return v;
    };
    const opts = (): Options | undefined => {
      const o = r.options;
      if (o === undefined) return undefined;
      if (!o || typeof o !== 'object' || Array.isArray(o)) throw new RequestError('E_BAD_REQUEST', "'options' must be an object of key: value strings");
      return o as Options;
    };
    switch (r.op) {
      case 'hello': return this.ops.hello();
      case 'status': return this.ops.status();
      case 'list': return this.ops.list();
      case 'attach': {
        if (r.required !== undefined && typeof r.required !== 'boolean') throw new RequestError('E_BAD_REQUEST', "'required' must be true or false");
        return this.ops.attach(str('vif')!, str('profile', true), opts(), str('domain', true), r.required === true);
      }
      case 'detach': {
        const mode = r.mode ?? 'drain';
        if (mode !== 'drain' && mode !== 'reset') throw new RequestError('E_BAD_REQUEST', "'mode' must be 'drain' or 'reset'");
        return this.ops.detach(str('vif')!, mode);
      }
      case 'set': return this.ops.set(str('vif')!, str('profile', true), opts());
      case 'flows': return this.ops.flows(str('vif', true));
      case 'reload':
        try { return this.ops.reload(); } catch (e) {
          throw new RequestError('E_BAD_REQUEST', `configuration not reloaded: ${(e as Error).message}`);
        }
    }
  }
}

function failure(id: unknown, code: ErrorCode, message: string) {
  return { v: PROTOCOL_VERSION, id: typeof id === 'number' || typeof id === 'string' ? id : null, ok: false, error: { code, message } };
}
