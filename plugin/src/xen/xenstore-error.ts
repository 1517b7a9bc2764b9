// The one error type of the xenstore client. `code` is an errno name: either
// what xenstored answered (ENOENT, EACCES, EAGAIN, EINVAL, E2BIG, ...) or
// what went wrong locally (ECONNREFUSED, ETIMEDOUT, ECONNRESET, ENOTCONN).

const MEANING: Record<string, string> = {
  ENOENT: 'no such node',
  EACCES: 'permission denied',
  EAGAIN: 'transaction conflict, retry it',
  EINVAL: 'invalid request',
  EEXIST: 'node exists',
  EISDIR: 'is a directory',
  ENOSPC: 'quota exceeded',
  ENOMEM: 'xenstored out of memory',
  E2BIG: 'request too large',
  EQUOTA: 'quota exceeded',
  EBUSY: 'xenstored busy',
  EROFS: 'read-only connection',
  ENOSYS: 'operation not supported by this xenstored',
  EPERM: 'operation not permitted',
  ECONNREFUSED: 'xenstored is not listening',
  ETIMEDOUT: 'no reply in time',
  ECONNRESET: 'connection to xenstored lost',
  ENOTCONN: 'client is closed',
};

export class XenstoreError extends Error {
  readonly code: string;
  readonly path?: string;

  constructor(code: string, message: string, path?: string) {
    super(message);
    this.name = 'XenstoreError';
    this.code = code;
    if (path !== undefined) this.path = path;
  }

  /** An error xenstored answered to `op` on `path`. */
  static fromReply(code: string, op: string, path: string | undefined): XenstoreError {
    const what = MEANING[code] ? `${code} (${MEANING[code]})` : code;
    const target = path !== undefined ? ` ${path}` : '';
    return new XenstoreError(code, `xenstore ${op}${target} failed: ${what}`, path);
  }
}
