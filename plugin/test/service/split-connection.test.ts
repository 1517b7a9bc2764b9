// SplitConnection's state machine with real sockets over loopback (see
// loopback.ts): bytes both ways, half-close in each order, backpressure,
// resets carried both ways, a refused destination, abort, idle timeout, a
// busy guest port, and a guest that vanishes. The kernel engine needs the BPF
// datapath: lab/test/*-kernel.test.ts and plugin/test/datapath/relay*.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { builtinProfile, type Profile } from '../../src/config/index.js';
import { RELAY_HIGH_WATER, SplitConnection, type Endpoint, type SplitHooks } from '../../src/service/split-connection.js';
import { endOf, guestPair, readAll, remoteServer, until, type Remote } from './loopback.js';

let remote: Remote;
test.before(async () => { remote = await remoteServer(); });
test.after(async () => { await remote.close(); });

interface Run {
  flow: SplitConnection;
  client: net.Socket;
  closed: string[];
  remembered: Endpoint[];
  logs: string[];
}

async function split(over: Partial<Profile> = {}, opts: { dst?: Endpoint; guestIp?: string } = {}): Promise<Run> {
  const { client, guestLeg, guest } = await guestPair(opts.guestIp);
  const closed: string[] = [], remembered: Endpoint[] = [], logs: string[] = [];
  const hooks: SplitHooks = {
    rememberTuple: async (_g, wanLocal) => { remembered.push(wanLocal); },
    closed: (_f, reason) => closed.push(reason),
    log: (level, msg) => logs.push(`${level}: ${msg}`),
  };
  const flow = new SplitConnection(1, 'vif1.0', 1, guestLeg, guest, opts.dst ?? { ip: '127.0.0.1', port: remote.port },
    { ...builtinProfile(), ...over }, hooks);
  await flow.start();
  return { flow, client, closed, remembered, logs };
}

test('relays bytes both ways exactly; the remote sees the guest\'s address and port; open once the WAN leg is', async () => {
  const r = await split();
  // start() returns once the WAN leg is connected: nothing is read from the guest before.
  assert.is(r.flow.state, 'open');
  const far = await remote.next();
  assert.is(far.remoteAddress, r.flow.guest.ip);
  assert.is(far.remotePort, r.flow.guest.port);
  const up = randomBytes(3 << 20), down = randomBytes(2 << 20);
  const gotUp = readAll(far), gotDown = readAll(r.client);
  r.client.end(up);
  far.end(down);
  assert.ok((await gotUp).equals(up), 'guest -> remote byte-exact');
  assert.ok((await gotDown).equals(down), 'remote -> guest byte-exact');
  await until('the flow to close', () => r.closed.length > 0);
  assert.equal(r.closed, ['closed']);
  assert.is(r.flow.bytesUp, up.length);
  assert.is(r.flow.bytesDown, down.length);
  assert.is(r.flow.closed, true);
});

test('half-close from the guest: the FIN follows the last byte, and the remote can still answer', async () => {
  const r = await split();
  const far = await remote.next();
  const req = randomBytes(100_000);
  const gotReq = readAll(far);
  r.client.end(req);
  assert.ok((await gotReq).equals(req), 'the remote got every byte, then the FIN');
  await until('half-closed', () => r.flow.state === 'half-closed');
  const gotReply = readAll(r.client);
  far.end('still here');
  assert.is((await gotReply).toString(), 'still here');
  await until('closed', () => r.closed.length > 0);
  assert.equal(r.closed, ['closed']);
});

test('half-close from the remote: the guest gets the FIN and can still send', async () => {
  const r = await split();
  const far = await remote.next();
  const gotBanner = readAll(r.client);
  far.end('banner');
  assert.is((await gotBanner).toString(), 'banner');
  const gotUp = readAll(far);
  r.client.end('after the FIN');
  assert.is((await gotUp).toString(), 'after the FIN');
  await until('closed', () => r.closed.length > 0);
});

test('backpressure: a remote that does not read holds the guest leg, not xlnetd\'s memory; nothing is lost', async () => {
  const r = await split();
  const far = await remote.next();
  far.pause();
  const data = randomBytes(32 << 20);
  r.client.write(data);
  await new Promise((res) => setTimeout(res, 500));
  const held = r.flow.wan!.writableLength;
  assert.ok(held <= RELAY_HIGH_WATER + (1 << 20), `xlnetd holds ${held} bytes for a stalled remote`);
  assert.ok(r.flow.bytesUp < data.length, 'the guest leg stopped being read');
  const got = readAll(far);
  far.resume();
  r.client.end();
  assert.ok((await got).equals(data), 'every byte arrived, in order');
  far.end();
  await until('closed', () => r.closed.length > 0);
});

test('a destination that refuses: the guest gets a reset', async () => {
  const closedPort = await new Promise<number>((res) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => res(p)); });
  });
  const r = await split({}, { dst: { ip: '127.0.0.1', port: closedPort } });
  assert.is(await endOf(r.client), 'ECONNRESET');
  await until('closed', () => r.closed.length > 0);
  assert.equal(r.closed, ['wan ECONNREFUSED']);
});

test('a reset from the remote reaches the guest as a reset', async () => {
  const r = await split();
  const far = await remote.next();
  r.client.write('hello');
  await until('data at the remote', () => far.readableLength > 0 || r.flow.bytesUp > 0);
  far.resetAndDestroy();
  assert.is(await endOf(r.client), 'ECONNRESET');
  await until('closed', () => r.closed.length > 0);
  assert.equal(r.closed, ['wan ECONNRESET']);
});

test('a reset from the guest reaches the remote as a reset', async () => {
  const r = await split();
  const far = await remote.next();
  const ended = endOf(far);
  r.client.write('x');
  await until('open', () => r.flow.bytesUp > 0);
  r.client.resetAndDestroy();
  assert.is(await ended, 'ECONNRESET');
  await until('closed', () => r.closed.length > 0);
  assert.equal(r.closed, ['guest ECONNRESET']);
});

test('abort resets both legs and reports its reason once', async () => {
  const r = await split();
  const far = await remote.next();
  const a = endOf(r.client), b = endOf(far);
  r.flow.abort('detached with reset');
  r.flow.abort('again');
  assert.equal([await a, await b], ['ECONNRESET', 'ECONNRESET']);
  assert.equal(r.closed, ['detached with reset']);
});

test('a flow idle longer than idle_timeout is reset', async () => {
  const r = await split({ idle_timeout: 1 });
  const far = await remote.next();
  const ended = endOf(r.client);
  assert.is(await ended, 'ECONNRESET');
  assert.is(await endOf(far), 'ECONNRESET');
  assert.match(r.closed[0] ?? '', /^idle for \d+s$/);
});

test('the guest\'s port busy in Dom0: the WAN leg takes another port and the steering is told the tuple first', async () => {
  const busy = net.createServer();
  const ip = '127.0.0.99';
  const { client, guestLeg, guest } = await guestPair(ip);
  await new Promise<void>((res) => busy.listen(guest.port, ip, res));
  try {
    const remembered: Endpoint[] = [], closed: string[] = [];
    const flow = new SplitConnection(2, 'vif1.0', 1, guestLeg, guest, { ip: '127.0.0.1', port: remote.port }, builtinProfile(), {
      rememberTuple: async (_g, w) => { remembered.push(w); },
      closed: (_f, why) => closed.push(why),
      log: () => undefined,
    });
    await flow.start();
    const far = await remote.next();
    assert.equal(remembered, [flow.wanLocal]);
    assert.is(flow.wanLocal.ip, ip);
    assert.is.not(flow.wanLocal.port, guest.port);
    assert.is(far.remotePort, flow.wanLocal.port);
    const got = readAll(far);
    client.end('via another port');
    assert.is((await got).toString(), 'via another port');
    far.end();
    await until('closed', () => closed.length > 0);
  } finally { busy.close(); }
});

test('the guest vanishes: what Dom0 acknowledged is still delivered, then the WAN leg ends', async () => {
  const r = await split();
  const far = await remote.next();
  const data = randomBytes(200_000);
  const got = readAll(far);
  r.client.write(data);
  await until('the bytes acknowledged to the guest', () => r.client.writableLength === 0);
  r.flow.guestVanished(5000);
  assert.ok((await got).equals(data), 'the remote got every acknowledged byte, then the FIN');
  far.end();
  await until('closed', () => r.closed.length > 0);
});

test.run();
