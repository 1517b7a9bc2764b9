// The xenstore wire protocol (xen/include/public/io/xs_wire.h): a 16-byte
// little-endian header {type, req_id, tx_id, len} followed by `len` bytes of
// payload, usually NUL-separated strings. Same bytes on xenstored's unix
// socket and on /dev/xen/xenbus.

/** enum xsd_sockmsg_type, Xen 4.17. */
export const XsType = {
  CONTROL: 0,
  DIRECTORY: 1,
  READ: 2,
  GET_PERMS: 3,
  WATCH: 4,
  UNWATCH: 5,
  TRANSACTION_START: 6,
  TRANSACTION_END: 7,
  INTRODUCE: 8,
  RELEASE: 9,
  GET_DOMAIN_PATH: 10,
  WRITE: 11,
  MKDIR: 12,
  RM: 13,
  SET_PERMS: 14,
  WATCH_EVENT: 15,
  ERROR: 16,
  IS_DOMAIN_INTRODUCED: 17,
  RESUME: 18,
  SET_TARGET: 19,
  RESET_WATCHES: 21,
  DIRECTORY_PART: 22,
} as const;
export type XsType = (typeof XsType)[keyof typeof XsType];

const TYPE_NAMES = new Map<number, string>(Object.entries(XsType).map(([k, v]) => [v, k]));

export function xsTypeName(type: number): string {
  return TYPE_NAMES.get(type) ?? `type ${type}`;
}

export const XS_HEADER_SIZE = 16;
/** XENSTORE_PAYLOAD_MAX: xenstored drops a connection that sends more. */
export const XS_PAYLOAD_MAX = 4096;

export interface XsMessage {
  type: number;
  reqId: number;
  txId: number;
  payload: Buffer;
}

export function encodeMessage(msg: XsMessage): Buffer {
  const out = Buffer.allocUnsafe(XS_HEADER_SIZE + msg.payload.length);
  out.writeUInt32LE(msg.type, 0);
  out.writeUInt32LE(msg.reqId, 4);
  out.writeUInt32LE(msg.txId, 8);
  out.writeUInt32LE(msg.payload.length, 12);
  msg.payload.copy(out, XS_HEADER_SIZE);
  return out;
}

/** Strings each terminated by NUL: the request form of most operations. */
export function nulStrings(...parts: string[]): Buffer {
  return Buffer.from(parts.map((p) => `${p}\0`).join(''), 'utf8');
}

/** A reply holding one NUL-terminated string ("OK\0", a path, a tx id). */
export function replyString(payload: Buffer): string {
  const end = payload.length > 0 && payload[payload.length - 1] === 0 ? payload.length - 1 : payload.length;
  return payload.toString('utf8', 0, end);
}

/** A reply holding a list of NUL-terminated strings (DIRECTORY, GET_PERMS,
 * WATCH_EVENT). */
export function replyStrings(payload: Buffer): string[] {
  const s = payload.toString('utf8');
  const parts = s.split('\0');
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

export class XsProtocolError extends Error {}

/** Reassembles messages from a byte stream that may split or merge them. */
export class XsMessageReader {
  private pending: Buffer[] = [];
  private buffered = 0;

  /** Feeds bytes; returns every complete message. Throws XsProtocolError on
   * a header no xenstored would send (the stream is then unusable). */
  push(chunk: Buffer): XsMessage[] {
    this.pending.push(chunk);
    this.buffered += chunk.length;
    const out: XsMessage[] = [];
    while (this.buffered >= XS_HEADER_SIZE) {
      const head = this.peek(XS_HEADER_SIZE);
      const len = head.readUInt32LE(12);
      if (len > XS_PAYLOAD_MAX) {
        throw new XsProtocolError(
          `xenstore sent a ${len}-byte payload, more than the protocol's ${XS_PAYLOAD_MAX}: not a xenstore peer, or the stream is out of sync`,
        );
      }
      if (this.buffered < XS_HEADER_SIZE + len) break;
      const whole = this.take(XS_HEADER_SIZE + len);
      out.push({
        type: whole.readUInt32LE(0),
        reqId: whole.readUInt32LE(4),
        txId: whole.readUInt32LE(8),
        payload: whole.subarray(XS_HEADER_SIZE),
      });
    }
    return out;
  }

  private peek(n: number): Buffer {
    if (this.pending[0].length < n) this.pending = [Buffer.concat(this.pending)];
    return this.pending[0].subarray(0, n);
  }

  private take(n: number): Buffer {
    const all = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
    const msg = all.subarray(0, n);
    const rest = all.subarray(n);
    this.pending = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return msg;
  }
}
