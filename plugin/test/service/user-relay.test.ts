// The user relay engine on real loopback sockets: byte-exact, and quiesced in
// the middle of a transfer it leaves every byte in the kernel (what the
// source gave up is in the destination's socket), which is what lets a
// restarted xlnetd go on.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { createHash } from 'node:crypto';
import * as libc from '../../src/ffi/libc.js';
import { UserRelay } from '../../src/service/user-relay.js';
import { directionPosition, legPosition } from '../../src/service/stream-position.js';
import { socketPair } from './loopback.js';

const fdOf = (s: net.Socket) => (s as unknown as { _handle: { fd: number } })._handle.fd;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** guest -> [relay: a.server | b.client] -> remote; returns the relay and the two ends. */
async function relayed() {
  const a = await socketPair(); // a.client: the guest; a.server: the guest leg
  const b = await socketPair(); // b.client: the WAN leg; b.server: the remote
  const gfd = libc.dup(fdOf(a.server)), wfd = libc.dup(fdOf(b.client));
  a.server.destroy(); b.client.destroy();
  const events = { ended: [] as string[], errors: [] as string[] };
  const r = new UserRelay(gfd, wfd, 0, {
    moved: () => undefined,
    ended: (d) => events.ended.push(d),
    error: (leg, e) => events.errors.push(`${leg} ${e.code}`),
    close: () => undefined,
  });
  for (const s of [b.client]) s.destroy();
  return { r, guest: a.client, remote: b.server, gfd, wfd, events, close: () => { a.srv.close(); b.srv.close(); } };
}

test('relays both ways byte-exact, with half-close', async () => {
  const x = await relayed();
  x.r.start();
  const data = Buffer.alloc(8 * 1024 * 1024);
  for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(i, i);
  const got: Buffer[] = [];
  x.remote.on('data', (d) => got.push(d));
  x.remote.resume();
  const ended = new Promise((r) => x.remote.once('end', r));
  x.guest.end(data);
  await ended;
  assert.is(createHash('sha256').update(Buffer.concat(got)).digest('hex'), createHash('sha256').update(data).digest('hex'));
  const back: Buffer[] = [];
  x.guest.on('data', (d) => back.push(d));
  const backEnded = new Promise((r) => x.guest.once('end', r));
  x.remote.end('answer');
  await backEnded;
  assert.is(Buffer.concat(back).toString(), 'answer');
  assert.equal(x.events.ended.sort(), ['down', 'up']);
  x.r.destroy(false); x.guest.destroy(); x.remote.destroy(); x.close();
});

test('quiesced mid-transfer against a slow reader: nothing left in xlnetd, the positions match', async () => {
  const x = await relayed();
  x.r.start();
  x.remote.pause(); // the remote reads nothing for now: the WAN leg fills up
  let sent = 0;
  const chunk = Buffer.alloc(256 * 1024, 9);
  const pump = () => { while (sent < 64 * 1024 * 1024 && x.guest.write(chunk)) sent += chunk.length; };
  x.guest.on('drain', () => { sent += chunk.length; pump(); });
  pump();
  await sleep(300);
  x.remote.resume(); // it reads again: data moves while we quiesce
  await sleep(100);
  const left = await x.r.quiesce(1000);
  assert.is(left, 0, 'every byte read is in the WAN leg');
  await sleep(100);
  const up = directionPosition(legPosition(x.gfd, false), legPosition(x.wfd, true));
  assert.equal([up.lost, up.repeated], [0, 0]);
  assert.ok(legPosition(x.wfd, true).written > 1024 * 1024, 'a good part went through');
  x.r.destroy(true); x.guest.destroy(); x.remote.destroy(); x.close();
});

test.run();
