import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import * as libc from '../../src/ffi/libc.js';
import { fdOf } from '../../src/service/socket-fd.js';

test('sockaddr encodes IPv4 and IPv6 like the kernel expects', () => {
  assert.equal([...libc.sockaddr('10.1.2.3', 80)], [2, 0, 0, 80, 10, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.is(libc.ipv6Bytes('fd77::1').toString('hex'), 'fd770000000000000000000000000001');
  assert.is(libc.ipv6Bytes('::ffff:1.2.3.4').toString('hex'), '00000000000000000000ffff01020304');
  assert.is(libc.ipv6Bytes('1:2:3:4:5:6:7:8').toString('hex'), '00010002000300040005000600070008');
  assert.throws(() => libc.sockaddr('300.1.1.1', 1), /not an IPv4/);
});

test('setsockopt/getsockopt round-trip ints and strings; errors name the call', () => {
  const fd = libc.tcpSocket(4);
  try {
    libc.setInt(fd, libc.SOL_SOCKET, libc.SO_REUSEADDR, 1);
    assert.is(libc.getInt(fd, libc.SOL_SOCKET, libc.SO_REUSEADDR), 1);
    libc.setString(fd, libc.IPPROTO_TCP, libc.TCP_CONGESTION, 'reno');
    assert.is(libc.getString(fd, libc.IPPROTO_TCP, libc.TCP_CONGESTION), 'reno');
    assert.throws(() => libc.setString(fd, libc.IPPROTO_TCP, libc.TCP_CONGESTION, 'nosuchcc', 'TCP_CONGESTION'),
      (e: unknown) => e instanceof libc.SysError && e.code === 'ENOENT' && /TCP_CONGESTION/.test(e.message));
  } finally { libc.close(fd); }
});

test('a connect started through FFI and wrapped by net.Socket carries data and reports refusal', async () => {
  const got: Buffer[] = [];
  const srv = net.createServer((s) => { s.on('data', (d) => got.push(d)); s.on('end', () => s.end('ok')); });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  const fd = libc.tcpSocket(4);
  libc.connectStart(fd, '127.0.0.1', port);
  const s = new net.Socket({ fd, readable: true, writable: true });
  const reply = await new Promise<string>((resolve, reject) => {
    let r = '';
    s.on('data', (d) => { r += d; }); s.on('end', () => resolve(r)); s.on('error', reject);
    s.end(Buffer.alloc(300_000, 7));
  });
  assert.is(reply, 'ok');
  assert.is(Buffer.concat(got).length, 300_000);
  srv.close();
  const fd2 = libc.tcpSocket(4);
  libc.connectStart(fd2, '127.0.0.1', port); // now closed: refused
  const s2 = new net.Socket({ fd: fd2, readable: true, writable: true });
  const err = await new Promise<NodeJS.ErrnoException>((resolve) => { s2.on('error', resolve); s2.write('x'); });
  assert.is(err.code, 'ECONNREFUSED');
});

test('TCP_INFO and queue sizes read from a live socket', async () => {
  const srv = net.createServer((s) => s.pause());
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const c = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise((r) => c.on('connect', r));
  const fd = fdOf(c);
  const info = libc.tcpInfo(fd);
  assert.is(info.state, 1);
  assert.is(libc.inq(fd), 0);
  c.destroy(); srv.close();
});

test('FFI stress: 20000 calls return correct values', () => {
  const fd = libc.tcpSocket(6);
  try {
    for (let i = 0; i < 20000; i++) {
      const v = 4096 + (i % 1000) * 2;
      libc.setInt(fd, libc.IPPROTO_TCP, libc.TCP_NOTSENT_LOWAT, v);
      if (libc.getInt(fd, libc.IPPROTO_TCP, libc.TCP_NOTSENT_LOWAT) !== v) assert.unreachable(`mismatch at ${i}`);
    }
  } finally { libc.close(fd); }
});

test.run();
