// The flow table with real split connections over loopback
// (../service/loopback.ts): the global limit, the counts per vif and in
// total, each flow's end reported once with its counts already updated, its
// tuning released once, resets per vif, and what `flows` reports.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { builtinProfile } from '../../src/config/index.js';
import { FlowTable, newVifFlowCounts, type FlowVif } from '../../src/daemon/flow-table.js';
import { Logger } from '../../src/daemon/log.js';
import type { SplitConnection } from '../../src/service/split-connection.js';
import { endOf, guestPair, readAll, remoteServer, until, type Remote } from '../service/loopback.js';

let remote: Remote;
// A remote of its own per test: each test takes the remote's sockets in order.
test.before.each(async () => { remote = await remoteServer(); });
test.after.each(async () => { await remote.close(); });

const vif = (id: number): FlowVif => ({ id, vif: `vif${id}.0`, counts: newVifFlowCounts() });

function table(maxFlows: number) {
  const ended: Array<{ vif: string; flow: number; open: number }> = [];
  const remembered: string[] = [];
  const t = new FlowTable<FlowVif>(() => ({ maxFlows }), {
    rememberTuple: async (v, w) => { remembered.push(`${v.vif} ${w.ip}:${w.port}`); },
    flowEnded: (v, f) => ended.push({ vif: v.vif, flow: f.id, open: v.counts.open }),
  }, new Logger('error', () => undefined));
  return { t, ended, remembered };
}

async function open(t: FlowTable<FlowVif>, v: FlowVif, released?: number[]): Promise<{ flow: SplitConnection; client: import('node:net').Socket }> {
  const { client, guestLeg, guest } = await guestPair();
  const id = t.allocateId();
  const tuning = released ? { registerWan: () => undefined, release: () => released.push(id) } : undefined;
  const flow = t.open(id, { vif: v, guestSock: guestLeg, guest, dst: { ip: '127.0.0.1', port: remote.port }, profile: builtinProfile(), tuning });
  return { flow, client };
}

test('admit refuses once max_flows flows run, and admits again when one ends', async () => {
  const { t } = table(2);
  const a = vif(1);
  assert.is(t.admit(a), undefined);
  const f1 = await open(t, a);
  await open(t, a);
  assert.is(t.admit(a), 'max_flows 2 reached');
  assert.is(t.admit(vif(2)), 'max_flows 2 reached', 'the limit is global');
  f1.flow.abort('test');
  assert.is(t.admit(a), undefined);
  t.abortAll('test over');
});

test('counts per vif and in total; a flow\'s end is reported once, counted already, and its tuning released once', async () => {
  const { t, ended } = table(100);
  const a = vif(1), b = vif(2);
  const released: number[] = [];
  const x = await open(t, a, released);
  const y = await open(t, b, released);
  t.refused(a);
  assert.equal(a.counts, { open: 1, total: 1, refused: 1, closedUp: 0, closedDown: 0 });
  const far = await remote.next();
  const got = readAll(far);
  x.client.end('12345');
  assert.is((await got).toString(), '12345');
  far.end('678');
  await until('the flow to end', () => ended.length === 1);
  assert.equal(ended, [{ vif: 'vif1.0', flow: x.flow.id, open: 0 }]);
  assert.equal(a.counts, { open: 0, total: 1, refused: 1, closedUp: 5, closedDown: 3 });
  assert.equal(released, [x.flow.id]);
  assert.equal(t.vifBytes(a), { up: 5, down: 3 });
  const tot = t.totals();
  assert.equal([tot.open, tot.total, tot.up, tot.down, tot.kernelFlows], [1, 2, 5, 3, 0]);
  y.flow.abort('test');
  y.flow.abort('twice');
  assert.is(ended.length, 2);
  assert.equal(released, [x.flow.id, y.flow.id]);
  assert.is(t.size, 0);
});

test('abortVif resets only that vif\'s flows; vifVanished lets them deliver and end', async () => {
  const { t, ended } = table(100);
  const a = vif(1), b = vif(2);
  const fa = await open(t, a), fb = await open(t, b);
  await remote.next(); const farB = await remote.next();
  const reset = endOf(fa.client);
  t.abortVif(1, 'detached with reset');
  assert.is(await reset, 'ECONNRESET');
  assert.equal(ended.map((e) => e.vif), ['vif1.0']);
  assert.is(t.size, 1);
  const got = readAll(farB);
  fb.client.write('last words');
  await until('acknowledged', () => fb.client.writableLength === 0);
  t.vifVanished(2);
  assert.is((await got).toString(), 'last words');
  farB.end();
  await until('vif2 flow ended', () => ended.length === 2);
});

test('flows: one row per flow with addresses, state and engine; kernel counters replace the relay\'s when the datapath has them', async () => {
  const { t } = table(100);
  const a = vif(5);
  const f = await open(t, a);
  const far = await remote.next();
  const got = readAll(far);
  f.client.write('abc');
  await until('relayed', () => f.flow.bytesUp === 3);
  far.write('defg');
  await until('relayed down', () => f.flow.bytesDown === 4);
  const [row] = t.info();
  assert.is(row!.vif, 'vif5.0');
  assert.is(row!.guest, `${f.flow.guest.ip}:${f.flow.guest.port}`);
  assert.is(row!.remote, `127.0.0.1:${remote.port}`);
  assert.equal([row!.engine, row!.counters, row!.bytesUp, row!.bytesDown, row!.state], ['user', 'relay', 3, 4, 'open']);
  assert.equal(t.info('vif9.0'), [], 'filtered by vif');
  // With the datapath the WAN leg has a cookie and the kernel's TCP counters
  // count: sequence space, so the SYN is one acked byte too many.
  f.flow.wanCookie = 77n;
  const asked: bigint[] = [];
  const withKernel = t.info(undefined, (c) => { asked.push(c); return { bytesAcked: 1 + 3, bytesReceived: 4 }; });
  assert.equal(asked, [77n]);
  assert.equal([withKernel[0]!.counters, withKernel[0]!.bytesUp, withKernel[0]!.bytesDown], ['kernel', 3, 4]);
  f.client.end();
  far.end();
  await got;
  await until('closed', () => t.size === 0);
});

test.run();
