// ServiceError: the one error type of service/. `code` is stable (callers
// decide on it, never on the message); the message says what went wrong.
export type ServiceErrorCode =
  | 'E_LISTEN' //         the transparent listener cannot be opened (port busy, no IP_TRANSPARENT)
  | 'E_NO_FD' //          a Node socket has no file descriptor (closed, or not connected yet)
  | 'E_NOT_REGISTERED'; // a leg has no flow record in the datapath (the kernel engine cannot take it)

export class ServiceError extends Error {
  constructor(readonly code: ServiceErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ServiceError';
  }
}
