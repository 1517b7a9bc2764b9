// RequestError: a control request that xlnetd refuses, with the protocol's
// error code (protocol.ts ErrorCode). The control server turns it into the
// `error` of the response; anything else thrown is an internal error.
import type { ErrorCode } from './protocol.js';

export class RequestError extends Error {
  constructor(readonly code: ErrorCode, message: string) { super(message); }
}
