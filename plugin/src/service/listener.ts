// The transparent listener: where TPROXY delivers guests' diverted
// connections. It listens on loopback only (127.0.0.1 and ::1) with
// IP_TRANSPARENT, so no guest can connect to it directly; TPROXY hands it
// connections for any destination, and an accepted socket's local address is
// the guest's real destination.
import net from 'node:net';
import { readFileSync } from 'node:fs';
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

/** IPv6 unusable on loopback (disabled there, or no IPv6 in the kernel): the
 * IPv4 listener serves alone. A transparent socket binds ::1 even without the
 * address, so the sysctl is what tells. */
function loopbackIpv6(): boolean {
  try { return readFileSync('/proc/sys/net/ipv6/conf/lo/disable_ipv6', 'utf8').trim() === '0'; } catch { return false; }
}

function ipv6Off(e: unknown): boolean {
  const code = (e as libc.SysError).code;
  return code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT';
}

export class TransparentListener {
  private servers: net.Server[] = [];
  port = 0;
  /** the listening sockets' fds (IPv4, then IPv6 when Dom0 has it), e.g. to register them with the datapath */
  fds: number[] = [];
  /** false when Dom0's loopback has no IPv6: IPv6 connections cannot be split */
  ipv6 = true;

  constructor(private readonly onConnection: (s: net.Socket) => void) {}

  /** Listens on the given port (0: one the kernel picks, the same for both families). */
  async listen(port: number): Promise<number> {
    let lastErr: unknown;
    for (let attempt = 0; attempt < 20; attempt++) {
      let fd4 = -1;
      try {
        fd4 = transparentListenFd(4, port);
        const p = libc.localPort(fd4);
        let fd6 = -1;
        if (loopbackIpv6()) {
          try { fd6 = transparentListenFd(6, p); } catch (e) {
            if (!ipv6Off(e)) throw e;
          }
        }
        await this.serve(fd6 >= 0 ? [fd4, fd6] : [fd4]);
        return p;
      } catch (e) {
        lastErr = e;
        if (fd4 >= 0 && this.servers.length === 0) libc.close(fd4);
        if (port !== 0) break; // a fixed port that is busy: say so
      }
    }
    throw new ServiceError('E_LISTEN', `cannot open the transparent listener${port ? ` on port ${port}` : ''}: ${(lastErr as Error).message}`, { cause: lastErr });
  }

  /** Serves listening sockets a previous xlnetd opened (kept by the keeper): same port, same queue. */
  async adopt(fds: number[]): Promise<number> {
    await this.serve(fds);
    return this.port;
  }

  private async serve(fds: number[]): Promise<void> {
    this.port = libc.localPort(fds[0]!);
    this.fds = fds;
    this.ipv6 = fds.length > 1;
    for (const fd of fds) {
      const srv = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, this.onConnection);
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen({ fd }, () => { srv.off('error', reject); resolve(); });
      });
      this.servers.push(srv);
    }
  }

  /** Stops accepting at once; the connections accepted already are not waited for. */
  close(): void {
    for (const s of this.servers) s.close();
    this.servers = [];
  }
}
