// Edge cases of the split: the guest's port already taken in Dom0, idle
// connections, and guests that go away with data still in flight.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Lab, NET, REPO } from '../lab.js';
import { call } from '../../plugin/src/daemon/client.js';
import { allOk, controller, ENGINE_SUFFIX } from './support.js';
import type { FlowInfo, StatusInfo } from '../../plugin/src/daemon/protocol.js';
import { run, sleep, waitFor } from '../exec.js';

const PREFIX = 'xle' + ENGINE_SUFFIX;
let lab: Lab;
let socket = '';
const ctl = controller(() => socket);

test.before(async () => {
  try {
    lab = await Lab.up({ prefix: PREFIX, link: 'lan' });
    await lab.addGuest({ domid: 1 });
    await lab.serve('echo', lab.ns.remote, ['node', join(REPO, 'lab/tools/probe.mjs'), 'serve-echo', '7007'], 7007);
    socket = (await lab.startDaemon('[profile brief]\nidle_timeout = 2s\n')).socket;
    await ctl({ op: 'attach', vif: 'vif1.0' });
  } catch (e) { console.error('setup failed:', e); throw e; }
});

test.after(async () => { await lab?.down(); });

test('the guest\'s port is taken in Dom0 (a Dom0 service listens on it): the WAN leg uses another port', async () => {
  // Linux itself recycles a TIME_WAIT tuple for a bound port when timestamps are on;
  // a Dom0 listener on the same port number is what really blocks the bind.
  await lab.serve('dom0-listener', lab.ns.dom0, ['node', join(REPO, 'lab/tools/probe.mjs'), 'serve-echo', '40124'], 40124);
  const r = await lab.probe(lab.guest(1).ns, ['connect', NET.remote4, '7007', 'hello', '40124']);
  assert.is(r.error, null);
  assert.is(r.received, 'hello', 'the guest got its echo through the split connection');
  const log = await run(['grep', '-c', 'busy in Dom0', join(lab.dir, 'logs', 'xlnetd.log')], { allowFail: true });
  assert.ok(Number(log.stdout.trim()) >= 1, 'the daemon took the fallback path');
  // Dom0's own service on that port was not disturbed.
  const own = await lab.probe(lab.ns.dom0, ['connect', '127.0.0.1', '40124', 'mine']);
  assert.is(own.received, 'mine');
});

test('a destination Dom0 routes through another interface is never split (no reach beyond the bridge)', async () => {
  // A management network only Dom0 is on: the guest cannot reach it by itself.
  const mgmt = `${PREFIX}-mgmt`;
  await run(['ip', 'netns', 'add', mgmt]);
  try {
    await run(['ip', 'link', 'add', 'mgmt0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', mgmt], { ns: lab.ns.dom0 });
    await run(['bash', '-c', 'ip addr add 10.79.9.1/24 dev mgmt0 && ip link set mgmt0 up'], { ns: lab.ns.dom0 });
    await run(['bash', '-c', 'ip link set lo up && ip addr add 10.79.9.2/24 dev eth0 && ip link set eth0 up && ip route add default via 10.79.9.1'], { ns: mgmt });
    await lab.serve('mgmt-echo', mgmt, ['node', join(REPO, 'lab/tools/probe.mjs'), 'serve-echo', '7010'], 7010);
    // xlnetd follows Dom0's routes every 5 s.
    await sleep(6000);
    const before = (await ctl<StatusInfo>({ op: 'status' })).flowsTotal;
    const r = await lab.probe(lab.guest(1).ns, ['connect', '10.79.9.2', '7010', 'leak']);
    assert.is.not(r.received, 'leak', 'the guest reached the management network');
    assert.is((await ctl<StatusInfo>({ op: 'status' })).flowsTotal, before, 'the connection was not split');
  } finally {
    await run(['ip', 'link', 'del', 'mgmt0'], { ns: lab.ns.dom0, allowFail: true });
    await run(['ip', 'netns', 'del', mgmt], { allowFail: true });
  }
});

test('an idle split connection is closed after the profile\'s idle_timeout', async () => {
  await ctl({ op: 'set', vif: 'vif1.0', profile: 'brief' });
  const r = await lab.probe(lab.guest(1).ns, ['idle', NET.remote4, '7007', '8']);
  assert.ok(r.connected);
  assert.ok(r.closedAfterMs !== null && (r.closedAfterMs as number) >= 1900 && (r.closedAfterMs as number) < 6000,
    `closed after ${String(r.closedAfterMs)} ms`);
  assert.is(r.error, 'ECONNRESET');
  await ctl({ op: 'set', vif: 'vif1.0', profile: 'default' });
});

test('a guest that vanishes (vif offline) still gets its acknowledged bytes delivered', async () => {
  await lab.setLink('geo-small'); // 2 Mbit/s up: Dom0 holds what the guest sent for a while
  await lab.startRemoteServer();
  const before = await ctl<StatusInfo>({ op: 'status' });
  const upload = lab.transfer(1, { dir: 'up', size: '600k', timeoutSec: 60 });
  // Wait until the guest has handed everything to Dom0 (local acknowledgement),
  // then pull the vif away as `xl destroy` would.
  await waitFor('the guest to have sent its data to Dom0', async () => {
    const f = (await ctl<FlowInfo[]>({ op: 'flows', vif: 'vif1.0' })).find((x) => x.remote.endsWith(':5001'));
    // relayedUp: what Dom0 read from the guest (acknowledged locally); bytesUp: what the remote acknowledged
    return f && (f.relayedUp ?? f.bytesUp) >= 600_000;
  }, 20_000);
  await run(['ip', 'link', 'del', 'vif1.0'], { ns: lab.ns.dom0 });
  await ctl({ op: 'detach', vif: 'vif1.0', mode: 'drain' });
  // The remote must receive every byte; the guest's own view ends in an error (its peer is gone).
  await upload;
  await waitFor('the remote to have all bytes', async () => {
    const st = await ctl<StatusInfo>({ op: 'status' });
    return st.flows === 0 && st.bytesUp - before.bytesUp >= 600_000;
  }, 30_000);
  const log = await run(['cat', join(lab.dir, 'logs', 'xfer-5001.log')], { allowFail: true });
  assert.not.match(log.stdout, /short|EOF after|ECONNRESET|error/i, log.stdout);
});

test.run();
