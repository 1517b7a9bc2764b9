// The file descriptor under a Node socket or server. Node has no public API for it;
// xlnet needs it for setsockopt/getsockopt through libc (ffi/libc.ts) and to
// hand sockets to the BPF datapath.
import type net from 'node:net';
import { ServiceError } from './service-error.js';

/** Throws when the socket has no descriptor (not connected yet, or closed). */
export function fdOf(s: net.Socket | net.Server): number {
  const h = (s as unknown as { _handle?: { fd?: number } })._handle;
  if (!h || typeof h.fd !== 'number' || h.fd < 0) throw new ServiceError('E_NO_FD', 'socket has no file descriptor');
  return h.fd;
}
