// The guest leg relies on an accepted socket inheriting its listener's
// options (tcp-options.ts applyLeg `inherited`): checked here on the running
// kernel, and that a leg whose profile differs still gets its own values.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import * as libc from '../../src/ffi/libc.js';
import { applyLeg, type LegSettings } from '../../src/service/tcp-options.js';
import { fdOf } from '../../src/service/socket-fd.js';


const LISTENER: LegSettings = {
  cc: 'reno', sndbuf: 300 * 1024, rcvbuf: 200 * 1024, nodelay: true, notsentLowat: 0,
  keepalive: true, keepaliveIdle: 123, keepaliveInterval: 17, keepaliveCount: 4,
};

function read(fd: number): LegSettings {
  const keepalive = libc.getInt(fd, libc.SOL_SOCKET, libc.SO_KEEPALIVE) !== 0;
  return {
    cc: libc.getString(fd, libc.IPPROTO_TCP, libc.TCP_CONGESTION),
    // the kernel doubles what was asked for (socket(7))
    sndbuf: libc.getInt(fd, libc.SOL_SOCKET, libc.SO_SNDBUF) / 2,
    rcvbuf: libc.getInt(fd, libc.SOL_SOCKET, libc.SO_RCVBUF) / 2,
    nodelay: libc.getInt(fd, libc.IPPROTO_TCP, libc.TCP_NODELAY) !== 0,
    notsentLowat: 0,
    keepalive,
    keepaliveIdle: libc.getInt(fd, libc.IPPROTO_TCP, libc.TCP_KEEPIDLE),
    keepaliveInterval: libc.getInt(fd, libc.IPPROTO_TCP, libc.TCP_KEEPINTVL),
    keepaliveCount: libc.getInt(fd, libc.IPPROTO_TCP, libc.TCP_KEEPCNT),
  };
}

/** A listener with LISTENER's options; returns one accepted socket's fd (and a cleanup). */
async function acceptOne(): Promise<{ fd: number; close: () => void }> {
  const lfd = libc.tcpSocket(4);
  libc.bind(lfd, '127.0.0.1', 0);
  libc.listen(lfd, 8);
  assert.equal(applyLeg(lfd, LISTENER), []);
  let accepted: net.Socket | undefined;
  const srv = net.createServer({ pauseOnConnect: true }, (s) => { accepted = s; });
  await new Promise<void>((r) => srv.listen({ fd: lfd }, r));
  const c = net.connect({ port: libc.localPort(lfd), host: '127.0.0.1' });
  c.on('error', () => undefined);
  for (let i = 0; i < 200 && !accepted; i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(accepted, 'a connection was accepted');
  return { fd: fdOf(accepted!), close: () => { c.destroy(); accepted!.destroy(); srv.close(); } };
}

test('an accepted socket starts with its listener\'s cc, buffers, nodelay and keepalive settings', async () => {
  const a = await acceptOne();
  try {
    assert.equal(read(a.fd), LISTENER);
  } finally { a.close(); }
});

test('a guest leg whose profile differs from the listener gets its own values, the rest stays inherited', async () => {
  const a = await acceptOne();
  try {
    const mine: LegSettings = { ...LISTENER, cc: 'cubic', keepaliveIdle: 321, nodelay: false };
    assert.equal(applyLeg(a.fd, mine, LISTENER), []);
    assert.equal(read(a.fd), mine);
    const off: LegSettings = { ...mine, keepalive: false };
    applyLeg(a.fd, off, mine);
    assert.is(read(a.fd).keepalive, false, 'keepalive turned off where the listener had it on');
  } finally { a.close(); }
});

test.run();
