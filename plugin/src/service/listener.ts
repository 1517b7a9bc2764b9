// The transparent listener: where TPROXY delivers guests' diverted
// connections. It listens on loopback only (127.0.0.1 and ::1) with
// IP_TRANSPARENT, so no guest can connect to it directly; TPROXY hands it
// connections for any destination, and an accepted socket's local address is
// the guest's real destination.
import net from 'node:net';
import * as libc from '../ffi/libc.js';
import { ServiceError } from './service-error.js';

const BACKLOG = 4096;

function transparentListenFd(family: 4 | 6, port: number): number {
  const fd = libc.tcpSocket(family);
  try {
    if (family === 6) {
      libc.setInt(fd, libc.IPPROTO_IPV6, libc.IPV6_V6ONLY, 1, 'IPV6_V6ONLY');
      libc.setInt(fd, libc.IPPROTO_IPV6, libc.IPV6_TRANSPARENT, 1, 'IPV6_TRANSPARENT');
    } else {
      libc.setInt(fd, libc.IPPROTO_IP, libc.IP_TRANSPARENT, 1, 'IP_TRANSPARENT');
    }
    libc.setInt(fd, libc.SOL_SOCKET, libc.SO_REUSEADDR, 1, 'SO_REUSEADDR');
    libc.bind(fd, family === 6 ? '::1' : '127.0.0.1', port);
    libc.listen(fd, BACKLOG);
    return fd;
  } catch (e) {
    libc.close(fd);
    throw e;
  }
}

export class TransparentListener {
  private servers: net.Server[] = [];
  port = 0;
  /** the listening sockets' fds (IPv4, IPv6), e.g. to register them with the datapath */
  fds: number[] = [];

  constructor(private readonly onConnection: (s: net.Socket) => void) {}

  /** Listens on the given port (0: one the kernel picks, the same for both families). */
  async listen(port: number): Promise<number> {
    let lastErr: unknown;
    for (let attempt = 0; attempt < 20; attempt++) {
      let fd4 = -1;
      try {
        fd4 = transparentListenFd(4, port);
        const p = libc.localPort(fd4);
        const fd6 = transparentListenFd(6, p);
        this.port = p;
        this.fds = [fd4, fd6];
        for (const fd of [fd4, fd6]) {
          const srv = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, this.onConnection);
          await new Promise<void>((resolve, reject) => {
            srv.once('error', reject);
            srv.listen({ fd }, () => { srv.off('error', reject); resolve(); });
          });
          this.servers.push(srv);
        }
        return p;
      } catch (e) {
        lastErr = e;
        if (fd4 >= 0 && this.servers.length === 0) libc.close(fd4);
        if (port !== 0) break; // a fixed port that is busy: say so
      }
    }
    throw new ServiceError('E_LISTEN', `cannot open the transparent listener${port ? ` on port ${port}` : ''}: ${(lastErr as Error).message}`, { cause: lastErr });
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.servers = [];
  }
}
