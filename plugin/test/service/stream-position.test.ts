// The kernel's counters read back as relay positions, on real loopback sockets.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import * as libc from '../../src/ffi/libc.js';
import { directionPosition, legPosition } from '../../src/service/stream-position.js';
import { socketPair } from './loopback.js';

const fdOf = (s: net.Socket) => (s as unknown as { _handle: { fd: number } })._handle.fd;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('consumed and written count data only: the SYN, the FINs and unread bytes left out', async () => {
  const { client, server, srv } = await socketPair();
  const c = fdOf(client), s = fdOf(server);
  client.write(Buffer.alloc(1000, 1));
  server.write(Buffer.alloc(300, 2));
  await sleep(50);
  assert.equal([legPosition(c, true).written, legPosition(s, false).consumed], [1000, 0]);
  assert.is(libc.recv(s, Buffer.alloc(400), libc.MSG_DONTWAIT), 400);
  assert.is(legPosition(s, false).consumed, 400);
  assert.is(legPosition(s, false).written, 300);
  client.end();
  await sleep(50);
  const afterFin = legPosition(s, false);
  assert.ok(afterFin.finReceived);
  assert.is(afterFin.consumed, 400, 'a received FIN is not a consumed byte');
  assert.ok(legPosition(c, true).finSent);
  assert.is(legPosition(c, true).written, 1000, 'a sent FIN is not a written byte');
  client.destroy(); server.destroy(); srv.close();
});

test('a relay that wrote more than it took shows repeated bytes; one that took more shows lost bytes', async () => {
  const a = await socketPair(); // a.client -> a.server is the source
  const b = await socketPair(); // b.server -> b.client is the destination
  a.client.write(Buffer.alloc(5000, 7));
  await sleep(50);
  // Written 3000 into the destination, taken 2000 out of the source: 1000 repeated.
  b.server.write(Buffer.alloc(3000, 7));
  assert.is(libc.recv(fdOf(a.server), Buffer.alloc(2000), libc.MSG_DONTWAIT), 2000);
  await sleep(50);
  let d = directionPosition(legPosition(fdOf(a.server), false), legPosition(fdOf(b.server), false));
  assert.equal([d.repeated, d.lost], [1000, 0]);
  // Taken 2000 more, written none: 1000 lost.
  assert.is(libc.recv(fdOf(a.server), Buffer.alloc(2000), libc.MSG_DONTWAIT), 2000);
  d = directionPosition(legPosition(fdOf(a.server), false), legPosition(fdOf(b.server), false));
  assert.equal([d.repeated, d.lost], [0, 1000]);
  // discard() throws repeated bytes away without copying them.
  assert.is(libc.discard(fdOf(a.server), 500), 500);
  assert.is(legPosition(fdOf(a.server), false).consumed, 4500);
  for (const p of [a, b]) { p.client.destroy(); p.server.destroy(); p.srv.close(); }
});

test.run();
