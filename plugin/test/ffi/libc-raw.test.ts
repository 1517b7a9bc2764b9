// The raw socket calls the kernel relay engine needs: dup, recv (peek,
// non-blocking), shutdown, SO_COOKIE, reset on close.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import * as libc from '../../src/ffi/libc.js';
import { fdOf } from '../../src/service/socket-fd.js';
import { socketPair } from '../service/loopback.js';



test('dup keeps the socket open after Node closed its fd; recv peeks, reads, and reports EAGAIN and EOF', async () => {
  const { client, server, srv } = await socketPair();
  const fd = libc.dup(fdOf(server));
  try {
    const buf = Buffer.alloc(16);
    assert.is(libc.recv(fd, buf, libc.MSG_DONTWAIT), -1, 'nothing yet: EAGAIN is -1');
    client.write('hello');
    await new Promise((r) => setTimeout(r, 50));
    assert.is(libc.recv(fd, buf, libc.MSG_PEEK | libc.MSG_DONTWAIT), 5);
    assert.is(libc.recv(fd, buf, libc.MSG_DONTWAIT), 5);
    assert.is(buf.subarray(0, 5).toString(), 'hello');
    server.destroy(); // Node closes its fd; ours still works
    client.end();
    await new Promise((r) => setTimeout(r, 50));
    assert.is(libc.recv(fd, buf, libc.MSG_DONTWAIT), 0, 'end of stream');
    const got: Buffer[] = [];
    client.on('data', (d) => got.push(d));
    const ended = new Promise((r) => client.once('end', r));
    libc.shutdown(fd, libc.SHUT_WR);
    await ended;
    assert.is(Buffer.concat(got).length, 0);
  } finally { libc.close(fd); client.destroy(); srv.close(); }
});

test('socket cookies are distinct and stable; SO_LINGER 0 makes the last close a reset', async () => {
  const { client, server, srv } = await socketPair();
  const a = libc.socketCookie(fdOf(client)), b = libc.socketCookie(fdOf(server));
  assert.ok(a > 0n && b > 0n && a !== b);
  assert.is(libc.socketCookie(fdOf(client)), a);
  const fd = libc.dup(fdOf(server));
  assert.is(libc.socketCookie(fd), b, 'a dup is the same socket');
  const err = new Promise<string>((r) => client.once('error', (e: NodeJS.ErrnoException) => r(e.code ?? '')));
  client.resume();
  libc.setResetOnClose(fd);
  server.destroy();
  libc.close(fd);
  assert.is(await err, 'ECONNRESET');
  assert.is(libc.errnoName(104), 'ECONNRESET');
  srv.close();
});

test.run();
