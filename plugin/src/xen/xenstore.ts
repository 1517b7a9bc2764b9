// xenstore client in plain TypeScript: speaks xenstored's wire protocol over
// its unix socket (or /dev/xen/xenbus), no libxenstore, no FFI.
//
// Requests are pipelined: each gets a req_id and its own timeout, replies are
// matched by req_id, so many requests can be in flight on one connection.
// Watch events arrive on the same connection and go to the watch callbacks.
import { existsSync } from 'node:fs';
import { XenstoreError } from './xenstore-error.js';
import { openTransport, type XsTransport } from './xs-transport.js';
import {
  XS_PAYLOAD_MAX,
  XsMessageReader,
  XsProtocolError,
  XsType,
  encodeMessage,
  nulStrings,
  replyString,
  replyStrings,
  xsTypeName,
  type XsMessage,
} from './xs-wire.js';

export { XenstoreError } from './xenstore-error.js';

export const DEFAULT_TIMEOUT_MS = 5000;
export const DEFAULT_TRANSACTION_RETRIES = 10;
/** Where libxenstore 4.17 looks, in its order, when XENSTORED_PATH is unset. */
export const DEFAULT_SOCKET_PATH = '/var/run/xenstored/socket';
export const XENBUS_DEVICE_PATHS = ['/dev/xen/xenbus', '/proc/xen/xenbus'];

export interface XenstoreConnectOptions {
  /** Socket or xenbus device. Default: env XENSTORED_PATH, else
   * $XENSTORED_RUNDIR/socket, else /var/run/xenstored/socket, else
   * /dev/xen/xenbus (what libxenstore's xs_open() does). */
  path?: string;
  /** Per-request (and connect) timeout. Default 5000 ms. */
  timeoutMs?: number;
}

/** A node permission as xenstored writes it: 'n' none, 'r' read, 'w' write,
 * 'b' both, then the domid ("b0", "r5"). The first entry names the owner and
 * what every domain not listed may do. */
export type XenstorePermission = `${'n' | 'r' | 'w' | 'b'}${number}`;

export type WatchCallback = (path: string, token: string) => void;

interface Pending {
  op: string;
  path: string | undefined;
  resolve(payload: Buffer): void;
  reject(err: XenstoreError): void;
  timer: NodeJS.Timeout;
}

interface Watch {
  path: string;
  token: string;
  cb: WatchCallback;
}

// req_id 0 is left to watch events and the device transport's wake-up.
const FIRST_REQ_ID = 1;
const MAX_REQ_ID = 0xffffffff;
const NO_TRANSACTION = 0;

function defaultPaths(): string[] {
  const fromEnv = process.env.XENSTORED_PATH;
  if (fromEnv) return [fromEnv];
  const rundir = process.env.XENSTORED_RUNDIR;
  const socket = rundir ? `${rundir}/socket` : DEFAULT_SOCKET_PATH;
  return [socket, ...XENBUS_DEVICE_PATHS.filter((p) => existsSync(p))];
}

function checkTimeout(ms: number): number {
  if (!Number.isFinite(ms) || ms <= 0) {
    throw new RangeError(`xenstore timeoutMs must be a positive number of milliseconds, got ${ms}`);
  }
  return ms;
}

export class XenstoreClient {
  private readonly reader = new XsMessageReader();
  private readonly pending = new Map<number, Pending>();
  private readonly watches = new Map<string, Watch>();
  private nextReqId = FIRST_REQ_ID;
  private closedReason: XenstoreError | undefined;

  private constructor(
    private readonly transport: XsTransport,
    private readonly timeoutMs: number,
  ) {
    transport.start(
      (chunk) => this.onData(chunk),
      (err) => this.onEnd(err),
    );
  }

  /** Opens a connection. Without a path it tries, like xs_open():
   * XENSTORED_PATH, the default socket, then the xenbus device. */
  static async connect(opts: XenstoreConnectOptions = {}): Promise<XenstoreClient> {
    const timeoutMs = checkTimeout(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const candidates = opts.path ? [opts.path] : defaultPaths();
    let firstError: unknown;
    for (const path of candidates) {
      try {
        return new XenstoreClient(await openTransport(path, timeoutMs), timeoutMs);
      } catch (err) {
        firstError ??= err;
      }
    }
    throw firstError;
  }

  /** The socket or device this client talks to. */
  get path(): string {
    return this.transport.path;
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  /** The value of a node. ENOENT if it does not exist. */
  async read(path: string, tx?: number): Promise<string> {
    return (await this.request(XsType.READ, 'READ', path, nulStrings(path), tx)).toString('utf8');
  }

  /** The value of a node, or undefined if it does not exist. */
  async tryRead(path: string, tx?: number): Promise<string | undefined> {
    try {
      return await this.read(path, tx);
    } catch (err) {
      if (err instanceof XenstoreError && err.code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Writes a node, creating it and any missing parents. */
  async write(path: string, value: string, tx?: number): Promise<void> {
    const payload = Buffer.concat([nulStrings(path), Buffer.from(value, 'utf8')]);
    await this.request(XsType.WRITE, 'WRITE', path, payload, tx);
  }

  /** Names (not paths) of the children of a node. */
  async directory(path: string, tx?: number): Promise<string[]> {
    return replyStrings(await this.request(XsType.DIRECTORY, 'DIRECTORY', path, nulStrings(path), tx));
  }

  /** Creates a node with an empty value (no error if it exists). */
  async mkdir(path: string, tx?: number): Promise<void> {
    await this.request(XsType.MKDIR, 'MKDIR', path, nulStrings(path), tx);
  }

  /** Removes a node and everything below it. Removing a node that does not
   * exist succeeds if its parent exists (xenstored's rule). */
  async rm(path: string, tx?: number): Promise<void> {
    await this.request(XsType.RM, 'RM', path, nulStrings(path), tx);
  }

  async getPermissions(path: string, tx?: number): Promise<XenstorePermission[]> {
    const perms = replyStrings(await this.request(XsType.GET_PERMS, 'GET_PERMS', path, nulStrings(path), tx));
    return perms as XenstorePermission[];
  }

  async setPermissions(path: string, perms: readonly XenstorePermission[], tx?: number): Promise<void> {
    if (perms.length === 0) {
      throw new XenstoreError('EINVAL', `xenstore SET_PERMS ${path}: at least the owner entry is needed`, path);
    }
    await this.request(XsType.SET_PERMS, 'SET_PERMS', path, nulStrings(path, ...perms), tx);
  }

  /**
   * Runs fn inside a transaction and commits it. When the commit fails with
   * EAGAIN (another client changed what fn read), fn runs again, up to
   * `retries` more times. If fn throws, the transaction is aborted and the
   * error rethrown. fn must only touch xenstore through the given tx.
   */
  async transaction<T>(fn: (tx: number) => Promise<T>, retries = DEFAULT_TRANSACTION_RETRIES): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const tx = await this.transactionStart();
      let result: T;
      try {
        result = await fn(tx);
      } catch (err) {
        await this.transactionEnd(tx, false).catch(() => undefined);
        throw err;
      }
      try {
        await this.transactionEnd(tx, true);
        return result;
      } catch (err) {
        if (!(err instanceof XenstoreError) || err.code !== 'EAGAIN') throw err;
        if (attempt >= retries) {
          throw new XenstoreError(
            'EAGAIN',
            `xenstore transaction still conflicted after ${attempt + 1} attempts (other writers kept changing the same nodes)`,
          );
        }
      }
    }
  }

  async transactionStart(): Promise<number> {
    const reply = replyString(await this.request(XsType.TRANSACTION_START, 'TRANSACTION_START', undefined, nulStrings('')));
    const tx = Number(reply);
    if (!Number.isInteger(tx) || tx <= 0) {
      throw new XenstoreError('EIO', `xenstore TRANSACTION_START returned an invalid transaction id ${JSON.stringify(reply)}`);
    }
    return tx;
  }

  /** Commits (true) or aborts (false). A commit can fail with EAGAIN. */
  async transactionEnd(tx: number, commit: boolean): Promise<void> {
    await this.request(XsType.TRANSACTION_END, 'TRANSACTION_END', undefined, nulStrings(commit ? 'T' : 'F'), tx);
  }

  /**
   * Calls cb(path, token) whenever `path` or anything below it changes.
   * xenstored also fires once right after the watch is set. Paths starting
   * with '@' are special (@introduceDomain, @releaseDomain).
   */
  async watch(path: string, token: string, cb: WatchCallback): Promise<void> {
    const key = `${path}\0${token}`;
    if (this.watches.has(key)) {
      throw new XenstoreError('EEXIST', `xenstore watch on ${path} with token ${token} is already set`, path);
    }
    // Registered before the request: the first event can follow the reply
    // in the same read.
    this.watches.set(key, { path, token, cb });
    try {
      await this.request(XsType.WATCH, 'WATCH', path, nulStrings(path, token));
    } catch (err) {
      this.watches.delete(key);
      throw err;
    }
  }

  async unwatch(path: string, token: string): Promise<void> {
    // Dropped first: events still in flight for it are ignored.
    this.watches.delete(`${path}\0${token}`);
    await this.request(XsType.UNWATCH, 'UNWATCH', path, nulStrings(path, token));
  }

  /** "/local/domain/<domid>", as xenstored computes it. */
  async getDomainPath(domid: number): Promise<string> {
    if (!Number.isInteger(domid) || domid < 0) {
      throw new XenstoreError('EINVAL', `xenstore GET_DOMAIN_PATH: domid must be a non-negative integer, got ${domid}`);
    }
    return replyString(await this.request(XsType.GET_DOMAIN_PATH, 'GET_DOMAIN_PATH', undefined, nulStrings(String(domid))));
  }

  /** Closes the connection; requests still waiting fail with ECONNRESET. */
  async close(): Promise<void> {
    if (!this.closedReason) {
      this.shutdown(new XenstoreError('ENOTCONN', `xenstore client for ${this.path} is closed`, undefined));
    }
    await this.transport.close();
  }

  private request(type: XsType, op: string, path: string | undefined, payload: Buffer, tx = NO_TRANSACTION): Promise<Buffer> {
    if (this.closedReason) return Promise.reject(this.closedReason);
    if (payload.length > XS_PAYLOAD_MAX) {
      return Promise.reject(
        new XenstoreError(
          'E2BIG',
          `xenstore ${op}${path !== undefined ? ` ${path.slice(0, 80)}` : ''}: payload is ${payload.length} bytes, the protocol allows at most ${XS_PAYLOAD_MAX} (path + value); nothing was sent`,
          path,
        ),
      );
    }
    const reqId = this.allocReqId();
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(reqId);
        reject(
          new XenstoreError(
            'ETIMEDOUT',
            `xenstore ${op}${path !== undefined ? ` ${path}` : ''}: no reply from ${this.path} within ${this.timeoutMs} ms`,
            path,
          ),
        );
      }, this.timeoutMs);
      this.pending.set(reqId, { op, path, resolve, reject, timer });
      this.transport.write(encodeMessage({ type, reqId, txId: tx, payload }));
    });
  }

  private allocReqId(): number {
    // Skip ids still waiting for a reply after a wrap-around (4G requests).
    do {
      const id = this.nextReqId;
      this.nextReqId = id >= MAX_REQ_ID ? FIRST_REQ_ID : id + 1;
      if (!this.pending.has(id)) return id;
    } while (true);
  }

  private onData(chunk: Buffer): void {
    let messages: XsMessage[];
    try {
      messages = this.reader.push(chunk);
    } catch (err) {
      if (!(err instanceof XsProtocolError)) throw err;
      this.shutdown(new XenstoreError('EPROTO', `xenstore connection to ${this.path} broken: ${err.message}`));
      void this.transport.close();
      return;
    }
    for (const msg of messages) this.dispatch(msg);
  }

  private dispatch(msg: XsMessage): void {
    if (msg.type === XsType.WATCH_EVENT) {
      this.fireWatch(msg.payload);
      return;
    }
    const p = this.pending.get(msg.reqId);
    if (!p) return; // timed out earlier, or the device transport's wake-up
    this.pending.delete(msg.reqId);
    clearTimeout(p.timer);
    if (msg.type === XsType.ERROR) {
      p.reject(XenstoreError.fromReply(replyString(msg.payload), p.op, p.path));
    } else {
      p.resolve(msg.payload);
    }
  }

  private fireWatch(payload: Buffer): void {
    const [path, token] = replyStrings(payload);
    if (path === undefined || token === undefined) return;
    for (const w of [...this.watches.values()]) {
      if (w.token !== token || !watchCovers(w.path, path)) continue;
      try {
        w.cb(path, token);
      } catch (err) {
        // A throwing callback must not break the connection for everyone
        // else; surface it like an EventEmitter listener would.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  private onEnd(err: Error | undefined): void {
    if (this.closedReason) return;
    this.shutdown(
      new XenstoreError(
        'ECONNRESET',
        `xenstore connection to ${this.path} lost${err ? `: ${err.message}` : ''}`,
      ),
    );
  }

  /** Fails everything still waiting and refuses new requests with `reason`. */
  private shutdown(reason: XenstoreError): void {
    this.closedReason = reason;
    const pending = [...this.pending.values()];
    this.pending.clear();
    this.watches.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(
        new XenstoreError(
          'ECONNRESET',
          `xenstore ${p.op}${p.path !== undefined ? ` ${p.path}` : ''}: no reply, ${reason.message}`,
          p.path,
        ),
      );
    }
  }
}

/** True if an event on `eventPath` belongs to a watch on `watchPath`. */
function watchCovers(watchPath: string, eventPath: string): boolean {
  if (watchPath === eventPath) return true;
  const prefix = watchPath.endsWith('/') ? watchPath : `${watchPath}/`;
  return eventPath.startsWith(prefix);
}
