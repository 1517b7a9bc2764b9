// Local acknowledgement in the lab: the guest's TCP is split in Dom0 by xlnetd
// and must stay byte-exact, transparent, and faithful to TCP's half-close and
// reset semantics; steering must never touch what it should not.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Lab, NET, REPO } from '../lab.js';
import { call } from '../../plugin/src/daemon/client.js';
import { allOk, controller, ENGINE_SUFFIX, TEST_ENGINE } from './support.js';
import type { AttachmentInfo, FlowInfo, StatusInfo } from '../../plugin/src/daemon/protocol.js';
import { run, waitFor } from '../exec.js';

const PREFIX = 'xla' + ENGINE_SUFFIX;
let lab: Lab;
let socket = '';
const ctl = controller(() => socket);
const status = () => ctl<StatusInfo>({ op: 'status' });


test.before(async () => {
  try { await setup(); } catch (e) { console.error('setup failed:', e); throw e; }
});

async function setup(): Promise<void> {
  lab = await Lab.up({ prefix: PREFIX, link: 'lan' });
  await lab.addGuest({ domid: 1, profile: 'modern' });
  await lab.addGuest({ domid: 2, profile: 'legacy' });
  await lab.addGuest({ domid: 3, mode: 'route' });
  await lab.startRemoteServer();
  socket = (await lab.startDaemon('[daemon]\nlog_level = debug\n')).socket;
  for (const vif of ['vif1.0', 'vif2.0', 'vif3.0']) await ctl({ op: 'attach', vif });
}

test.after(async () => { await lab?.down(); });

test('byte-exact uploads and downloads through the service, 0 B to 100 MB, IPv4 and IPv6', async () => {
  const before = (await status()).flowsTotal;
  for (const size of [0, 1, 100_000, 10_000_000]) {
    for (const dir of ['up', 'down'] as const) {
      allOk(await lab.transfer(1, { dir, size }));
      allOk(await lab.transfer(1, { dir, size, ipv6: true }));
    }
  }
  allOk(await lab.transfer(1, { dir: 'up', size: '100m' }));
  allOk(await lab.transfer(1, { dir: 'down', size: '100m' }));
  const after = (await status()).flowsTotal;
  assert.is(after - before, 18, 'every transfer went through the service');
});

test('the remote sees the guest\'s own address and port (IPv4 and IPv6)', async () => {
  for (const ipv6 of [false, true]) {
    const r = await lab.transfer(1, { dir: 'up', size: 1000, ipv6 });
    allOk(r);
    const t = r.transfers[0]!;
    assert.is(t.peer_saw, t.local, 'peer_saw equals the guest socket address');
  }
});

test('20 transfers in parallel, from a modern and a legacy guest at once', async () => {
  const [a, b] = await Promise.all([
    lab.transfer(1, { dir: 'up', size: '2m', count: 20, parallel: 20 }),
    lab.transfer(2, { dir: 'down', size: '2m', count: 20, parallel: 20 }),
  ]);
  allOk(a); allOk(b);
  assert.is(a.transfers.length + b.transfers.length, 40);
});

test('routed guests (vif-route) are split too', async () => {
  const before = (await ctl<AttachmentInfo[]>({ op: 'list' })).find((x) => x.vif === 'vif3.0')!;
  assert.is(before.mode, 'route');
  allOk(await lab.transfer(3, { dir: 'up', size: '1m' }));
  allOk(await lab.transfer(3, { dir: 'down', size: '1m', ipv6: true }));
  const after = (await ctl<AttachmentInfo[]>({ op: 'list' })).find((x) => x.vif === 'vif3.0')!;
  assert.is(after.flowsTotal - before.flowsTotal, 2);
});

test('half-close: a guest that shuts its write side still receives the rest', async () => {
  await lab.serve('echo', lab.ns.remote, ['node', join(REPO, 'lab/tools/probe.mjs'), 'serve-echo', '7007'], 7007);
  const r = await lab.probe(lab.guest(1).ns, ['connect', NET.remote4, '7007', '@200000']);
  assert.is(r.error, null);
  assert.is((r.received as string).length, 200_000, 'all echoed bytes arrived after the guest half-closed');
});

test('a reset from the remote reaches the guest', async () => {
  await lab.serve('reset', lab.ns.remote, ['node', join(REPO, 'lab/tools/probe.mjs'), 'serve-reset', '7008'], 7008);
  const r = await lab.probe(lab.guest(1).ns, ['connect', NET.remote4, '7008']);
  assert.is(r.error, 'ECONNRESET');
});

test('a closed port gives the guest a reset', async () => {
  const r = await lab.probe(lab.guest(1).ns, ['connect', NET.remote4, '7999']);
  assert.ok(r.error === 'ECONNRESET' || r.error === 'ECONNREFUSED', `got ${String(r.error)}`);
  const r6 = await lab.probe(lab.guest(1).ns, ['connect', NET.remote6, '7999']);
  assert.ok(r6.error === 'ECONNRESET' || r6.error === 'ECONNREFUSED', `got ${String(r6.error)}`);
});

test('excluded ports (ssh by default) and Dom0\'s own addresses are not split', async () => {
  await lab.serve('ssh-like', lab.ns.remote, ['node', join(REPO, 'lab/tools/probe.mjs'), 'serve-echo', '22'], 22);
  await lab.serve('dom0-svc', lab.ns.dom0, ['node', join(REPO, 'lab/tools/probe.mjs'), 'serve-echo', '7009'], 7009);
  const before = (await status()).flowsTotal;
  const a = await lab.probe(lab.guest(1).ns, ['connect', NET.remote4, '22', 'ssh']);
  assert.is(a.received, 'ssh');
  const b = await lab.probe(lab.guest(1).ns, ['connect', NET.dom0_4, '7009', 'dom0']);
  assert.is(b.received, 'dom0');
  const c = await lab.probe(lab.guest(3).ns, ['connect', NET.dom0_4, '7009', 'dom0r']);
  assert.is(c.received, 'dom0r');
  const d = await lab.probe(lab.guest(1).ns, ['connect', NET.dom0_6, '7009', 'dom06']);
  assert.is(d.received, 'dom06');
  assert.is((await status()).flowsTotal, before, 'no flow was split');
});

test('a connection that was open before attach stays end to end and keeps working', async () => {
  await ctl({ op: 'detach', vif: 'vif2.0', mode: 'reset' });
  const holding = lab.probe(lab.guest(2).ns, ['hold', NET.remote4, '7007', '4']);
  await new Promise((r) => setTimeout(r, 1200));
  await ctl({ op: 'attach', vif: 'vif2.0' });
  const r = await holding;
  assert.is(r.error, null);
  assert.ok((r.echoed as number) >= 3, `echoed ${String(r.echoed)} lines`);
  allOk(await lab.transfer(2, { dir: 'up', size: '1m' }));
});

test('flows shows live split connections with addresses and bytes', async () => {
  const running = lab.probe(lab.guest(1).ns, ['hold', NET.remote4, '7007', '3']);
  // The probe echoes a line a second; on a loaded machine it may take a while to start.
  let flows: FlowInfo[] = [];
  const f = await waitFor('the held flow with bytes both ways', async () => {
    flows = await ctl<FlowInfo[]>({ op: 'flows', vif: 'vif1.0' });
    return flows.find((x) => x.remote === `${NET.remote4}:7007` && x.bytesUp > 0 && x.bytesDown > 0);
  }).catch(() => undefined);
  assert.ok(f, JSON.stringify(flows));
  assert.ok(f!.guest.startsWith(lab.guest(1).ip4));
  assert.ok(f!.bytesUp > 0 && f!.bytesDown > 0);
  assert.is(f!.engine, TEST_ENGINE, 'the flow is relayed by the engine under test');
  await running;
});

test('bad control requests get clear errors and the daemon keeps running', async () => {
  const bad: Array<[Parameters<typeof call>[0], string]> = [
    [{ op: 'attach', vif: 'nosuchvif0' }, 'E_NO_VIF'],
    [{ op: 'attach', vif: 'vif1.0' }, 'E_ALREADY_ATTACHED'],
    [{ op: 'attach', vif: '../etc' }, 'E_BAD_REQUEST'],
    [{ op: 'detach', vif: 'vif9.0' }, 'E_NOT_ATTACHED'],
    [{ op: 'set', vif: 'vif1.0', profile: 'nosuch' }, 'E_UNKNOWN_PROFILE'],
    [{ op: 'set', vif: 'vif1.0', options: { buffer: '12q' } }, 'E_BAD_OPTION'],
    [{ op: 'set', vif: 'vif1.0', options: { nosuchkey: '1' } }, 'E_BAD_OPTION'],
  ];
  for (const [req, code] of bad) {
    const e = await ctl(req).then(() => undefined, (x: { code: string; message: string }) => x);
    assert.ok(e, `${JSON.stringify(req)} must fail`);
    assert.is(e!.code, code, `${JSON.stringify(req)}: ${e!.message}`);
    assert.ok(e!.message.length > 10);
  }
  // Raw lines: not JSON, wrong version, unknown op.
  const raw = async (line: string) => {
    const r = await run(['bash', '-c', `printf '%s\\n' '${line}' | timeout 3 nc -U -q 1 ${socket} || true`], { allowFail: true });
    return r.stdout;
  };
  if ((await run(['which', 'nc'], { allowFail: true })).code === 0) {
    assert.match(await raw('this is not json'), 'E_PARSE');
    assert.match(await raw('{"v":99,"id":1,"op":"status"}'), 'E_VERSION');
    assert.match(await raw('{"v":1,"id":1,"op":"explode"}'), 'E_UNKNOWN_OP');
  }
  assert.ok((await status()).pid > 0, 'daemon still answers');
});

test.run();
