// Per-flow and per-vif counters: the bytes a transfer moved through registered
// sockets, read back from the maps, live and after close.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadDatapath, type Datapath, type FlowCounters } from '../../src/datapath/index.js';
import { ADDR_B, Agent, NetnsPair, TestCgroup, buildObjects, sh } from './lab.js';

const PORT = 5002;
const ATT = 9;
const N = 5_000_000; // client -> server
const M = 777_777; // server -> client

let net: NetnsPair | undefined;
let cg: TestCgroup | undefined;
let dp: Datapath | undefined;
const agents: Agent[] = [];

test.before(async () => {
  buildObjects();
  cg = new TestCgroup();
  net = new NetnsPair();
  dp = await loadDatapath({ cgroup: cg.path });
  dp.setTuning(1, { cc: 'cubic' });
});

test.after(async () => {
  for (const a of agents) await a.stop();
  dp?.close();
  net?.remove();
  await cg?.remove();
});

async function agent(ns: string): Promise<Agent> {
  const a = await Agent.start(ns, { skMapFd: dp!.mapFd('xlnet_sk'), cgroup: cg });
  agents.push(a);
  return a;
}

async function until<T>(what: string, f: () => T | undefined): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(dp!.flowCounters().map((f) => [f.leg, f.closed, f.bytesAcked, f.bytesReceived, f.segsOut, f.segsIn, f.totalRetrans]))} ${process.env.XDP_DEBUG ? ssDump() : ''}`);
}

test('a transfer through registered sockets is counted per flow and per vif, live and after close', async () => {
  const server = await agent(net!.b);
  await server.request({ op: 'listen', host: ADDR_B, port: PORT, register: { attachment: ATT, profile: 1 }, reply: M });
  const client = await agent(net!.a);
  const c = await client.request<{ id: number; localPort: number }>({ op: 'connect', host: ADDR_B, port: PORT, register: { attachment: ATT, profile: 1 } });
  const st = await client.request<{ cookie: string }>({ op: 'state', id: c.id });
  const wanCookie = BigInt(st.cookie);
  const guestOf = (): FlowCounters | undefined =>
    dp!.flowCounters().find((f) => f.leg === 'guest' && f.remote.port === c.localPort);

  // Live: the counters follow the transfer while both sockets are open.
  await client.request({ op: 'write', id: c.id, bytes: N });
  const live = await until('the live counters to reach N', () => {
    const wan = dp!.flow(wanCookie), guest = guestOf();
    // Sequence space: +1 for the SYN on the connecting side.
    return wan && guest && wan.bytesAcked === N + 1 && guest.bytesReceived === N ? { wan, guest } : undefined;
  });
  assert.not.ok(live.wan.closed);
  assert.ok(live.wan.dataSegsOut >= Math.ceil(N / 65536), 'segments counted');
  const vifLive = dp!.vifCounters().find((v) => v.attachment === ATT && v.leg === 'wan')!;
  assert.is(vifLive.liveFlows, 1);
  assert.is(vifLive.bytesAcked, N + 1);

  // Close: the server answers M bytes and both sides close; the numbers are final.
  const r = await client.request<{ received: number }>({ op: 'finish', id: c.id });
  assert.is(r.received, M);
  const [wan, guest] = await until('both flows closed', () => {
    const w = dp!.flow(wanCookie), g = guestOf();
    return w?.closed && g?.closed ? [w, g] as const : undefined;
  });
  // +1 for each FIN, +1 for the SYN on the connecting (WAN) side.
  assert.is(wan.bytesAcked, N + 2);
  assert.is(wan.bytesReceived, M + 1);
  assert.is(guest.bytesReceived, N + 1);
  assert.is(guest.bytesAcked, M + 1);
  assert.ok(guest.dataSegsIn >= Math.ceil(N / 65536) && guest.dataSegsIn <= wan.dataSegsOut, 'data segments counted on both sides');

  const vifs = dp!.vifCounters().filter((v) => v.attachment === ATT);
  assert.equal(vifs.map((v) => [v.leg, v.flows, v.liveFlows, v.bytesAcked, v.bytesReceived]), [
    ['guest', 1, 0, M + 1, N + 1],
    ['wan', 1, 0, N + 2, M + 1],
  ]);

  // The daemon forgets a detached vif: its totals and closed flows go.
  dp!.forgetAttachment(ATT);
  assert.is(dp!.vifCounters().filter((v) => v.attachment === ATT).length, 0);
  assert.is(dp!.flow(wanCookie), undefined);
});

test.run();
function ssDump(): string { return sh('ip', ['netns', 'exec', net!.a, 'ss', '-tinH']); }
