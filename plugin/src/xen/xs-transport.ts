// Byte transports to xenstored: its unix socket, or the xenbus character
// device (/dev/xen/xenbus) that the kernel offers when xenstored runs in
// another domain (or the socket is absent). Both carry the same messages.
import { constants as fsc } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import { XenstoreError } from './xenstore-error.js';
import { XS_HEADER_SIZE, XS_PAYLOAD_MAX, XsType, encodeMessage, nulStrings } from './xs-wire.js';

export interface XsTransport {
  /** Where it is connected, for error messages. */
  readonly path: string;
  write(bytes: Buffer): void;
  /** Called with each chunk read, and once with the reason when the
   * connection ends (undefined after close()). */
  start(onData: (chunk: Buffer) => void, onEnd: (err: Error | undefined) => void): void;
  close(): Promise<void>;
}

/** Connects to a path: a character device gets the device transport,
 * anything else is treated as xenstored's unix socket. */
export async function openTransport(path: string, timeoutMs: number): Promise<XsTransport> {
  let isDevice = false;
  try {
    isDevice = (await stat(path)).isCharacterDevice();
  } catch (err) {
    throw connectError(path, err);
  }
  return isDevice ? openDevice(path) : openSocket(path, timeoutMs);
}

function connectError(path: string, err: unknown): XenstoreError {
  const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
  const hint =
    code === 'ENOENT' || code === 'ECONNREFUSED'
      ? ' - is xenstored running? (set XENSTORED_PATH to point at its socket)'
      : code === 'EACCES'
        ? ' - xenstore needs root'
        : '';
  return new XenstoreError(code, `cannot connect to xenstore at ${path}: ${code}${hint}`, path);
}

function openSocket(path: string, timeoutMs: number): Promise<XsTransport> {
  return new Promise((resolve, reject) => {
    const sock: Socket = netConnect({ path });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new XenstoreError('ETIMEDOUT', `cannot connect to xenstore at ${path}: no answer in ${timeoutMs} ms`, path));
    }, timeoutMs);
    sock.once('error', (err) => {
      clearTimeout(timer);
      reject(connectError(path, err));
    });
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.removeAllListeners('error');
      resolve(new SocketTransport(path, sock));
    });
  });
}

class SocketTransport implements XsTransport {
  private closing = false;
  constructor(
    readonly path: string,
    private readonly sock: Socket,
  ) {
    sock.setNoDelay(true);
  }

  start(onData: (chunk: Buffer) => void, onEnd: (err: Error | undefined) => void): void {
    let lastError: Error | undefined;
    this.sock.on('data', onData);
    this.sock.on('error', (err) => (lastError = err));
    this.sock.on('close', () => onEnd(this.closing ? undefined : (lastError ?? new Error('xenstored closed the connection'))));
  }

  write(bytes: Buffer): void {
    this.sock.write(bytes);
  }

  close(): Promise<void> {
    this.closing = true;
    if (this.sock.destroyed) return Promise.resolve();
    return new Promise((done) => {
      this.sock.once('close', () => done());
      this.sock.destroy();
    });
  }
}

/*
 * /dev/xen/xenbus: write() takes whole messages, read() blocks until a reply
 * or watch event is queued. Node cannot poll a character device, so reads run
 * as blocking reads on libuv's thread pool (one pool thread per open client).
 * close() cannot interrupt a blocked read, so it first sends a request whose
 * reply (req_id 0, never used by the client) wakes the reader up.
 * Not exercised by this repository's tests (needs a Xen domain); the lab
 * tests use the socket.
 */
async function openDevice(path: string): Promise<XsTransport> {
  let fh: FileHandle;
  try {
    fh = await open(path, fsc.O_RDWR);
  } catch (err) {
    throw connectError(path, err);
  }
  return new DeviceTransport(path, fh);
}

/** req_id of the wake-up request sent by close(); ordinary requests start at 1. */
const WAKEUP_REQ_ID = 0;

class DeviceTransport implements XsTransport {
  private closing = false;
  private reading: Promise<void> = Promise.resolve();
  private writes: Promise<unknown> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly fh: FileHandle,
  ) {}

  start(onData: (chunk: Buffer) => void, onEnd: (err: Error | undefined) => void): void {
    this.reading = (async () => {
      const buf = Buffer.alloc(XS_HEADER_SIZE + XS_PAYLOAD_MAX);
      try {
        for (;;) {
          const { bytesRead } = await this.fh.read(buf, 0, buf.length, null);
          if (this.closing) return onEnd(undefined);
          if (bytesRead === 0) return onEnd(new Error(`${this.path} reached end of file`));
          onData(Buffer.from(buf.subarray(0, bytesRead)));
        }
      } catch (err) {
        onEnd(this.closing ? undefined : (err as Error));
      }
    })();
  }

  write(bytes: Buffer): void {
    // The device wants each message in one write(); keep them in order.
    this.writes = this.writes.then(() => this.fh.write(bytes)).catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.closing) return this.reading;
    this.closing = true;
    this.write(
      encodeMessage({ type: XsType.GET_DOMAIN_PATH, reqId: WAKEUP_REQ_ID, txId: 0, payload: nulStrings('0') }),
    );
    await this.writes;
    await this.reading;
    await this.fh.close();
  }
}
