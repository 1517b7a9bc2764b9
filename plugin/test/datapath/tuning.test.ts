// The tuning a user configures reaches the sockets xlnetd registers, and only those.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadDatapath, type Datapath } from '../../src/datapath/index.js';
import { ADDR_B, Agent, NetnsPair, TestCgroup, buildObjects, defaultCc, ssInfo } from './lab.js';

const PORT = 5001;
const WAN = { attachment: 7, profile: 1 };
const GUEST = { attachment: 7, profile: 2 };

let net: NetnsPair | undefined;
let cg: TestCgroup | undefined;
let dp: Datapath | undefined;
const agents: Agent[] = [];

test.before(async () => {
  buildObjects();
  cg = new TestCgroup();
  net = new NetnsPair();
  dp = await loadDatapath({ cgroup: cg.path });
  dp.setTuning(WAN.profile, { initcwnd: 40, cc: 'reno', sndbuf: 100_000, rcvbuf: 60_000 });
  dp.setTuning(GUEST.profile, { initcwnd: 20, cc: 'cubic', cwndClamp: 30 });
});

test.after(async () => {
  for (const a of agents) await a.stop();
  dp?.close();
  net?.remove();
  await cg?.remove();
});

async function agent(ns: string, inCgroup: boolean): Promise<Agent> {
  const a = await Agent.start(ns, { skMapFd: dp!.mapFd('xlnet_sk'), cgroup: inCgroup ? cg : undefined });
  agents.push(a);
  return a;
}

test('a registered WAN-leg socket starts with the profile: cwnd 40, reno, fixed buffers', async () => {
  assert.is.not(defaultCc(net!.a), 'reno', 'precondition: reno must not be the default');
  const server = await agent(net!.b, true);
  await server.request({ op: 'listen', host: ADDR_B, port: PORT, register: GUEST, reply: 0 });
  const client = await agent(net!.a, true);
  const c = await client.request<{ id: number; localPort: number }>({ op: 'connect', host: ADDR_B, port: PORT, register: WAN });
  const info = ssInfo(net!.a, c.localPort);
  assert.is(info.cc, 'reno');
  assert.is(info.cwnd, 40);
  assert.is(info.sndbuf, 200_000, 'SO_SNDBUF 100000, doubled by the kernel');
  assert.is(info.rcvbuf, 120_000, 'SO_RCVBUF 60000, doubled by the kernel');
  const st = await client.request<{ cookie: string | null; tuneFailed: string[] }>({ op: 'state', id: c.id });
  assert.ok(st.cookie && BigInt(st.cookie) > 0n, 'the socket learned its cookie at establishment');
  assert.equal(st.tuneFailed, []);
  const flow = dp!.flow(BigInt(st.cookie!));
  assert.ok(flow, 'the flow is in the flow table');
  assert.is(flow!.leg, 'wan');
  assert.is(flow!.attachment, 7);
  assert.is(flow!.remote.port, PORT);
  assert.is(flow!.remote.address, ADDR_B);
  assert.is(flow!.local.port, c.localPort);
});

test('the guest leg (accepted from a registered listener) gets the listener\'s profile', async () => {
  const client = await agent(net!.a, true);
  const c = await client.request<{ localPort: number }>({ op: 'connect', host: ADDR_B, port: PORT });
  // Server side: the accepted socket, local port PORT, peer c.localPort.
  const info = ssInfo(net!.b, PORT, c.localPort);
  assert.is(info.cc, 'cubic');
  assert.is(info.cwnd, 20);
  const accepted = dp!.flowCounters().find((f) => f.leg === 'guest' && f.remote.port === c.localPort);
  assert.ok(accepted, 'the accepted socket has a guest-leg flow record');
  assert.is(accepted!.profile, GUEST.profile);
});

test('an unregistered socket in the daemon\'s cgroup keeps the kernel defaults', async () => {
  const client = await agent(net!.a, true);
  const c = await client.request<{ localPort: number }>({ op: 'connect', host: ADDR_B, port: PORT });
  const info = ssInfo(net!.a, c.localPort);
  assert.is(info.cc, defaultCc(net!.a));
  assert.is(info.cwnd, 10, 'the kernel\'s initial window (TCP_INIT_CWND)');
  assert.ok(!dp!.flowCounters().some((f) => f.local.port === c.localPort && f.leg === 'wan'), 'no flow record');
});

test('a process outside the cgroup is never affected, even with a registered socket', async () => {
  const outside = await agent(net!.a, false);
  const c = await outside.request<{ localPort: number }>({ op: 'connect', host: ADDR_B, port: PORT, register: WAN });
  const info = ssInfo(net!.a, c.localPort);
  assert.is(info.cc, defaultCc(net!.a));
  assert.is(info.cwnd, 10);
  assert.ok(!dp!.flowCounters().some((f) => f.local.port === c.localPort && f.leg === 'wan'), 'no flow record');
});

test.run();
