// The kernel relay engine (engine = kernel): large transfers with the bytes
// spliced in the kernel, and the kernel's own byte counts in `flows`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Lab, NET, REPO, type XferReport } from '../lab.js';
import { call } from '../../plugin/src/daemon/client.js';
import type { FlowInfo, StatusInfo } from '../../plugin/src/daemon/protocol.js';
import { sleep } from '../exec.js';


const PREFIX = 'xkik';
let lab: Lab;
let socket = '';
let logPath = '';
const ctl = <T>(req: Parameters<typeof call>[0]) => call<T>(req, { socket });
const status = () => ctl<StatusInfo>({ op: 'status' });

function allOk(r: XferReport): void {
  for (const t of r.transfers) {
    assert.ok(t.ok, `transfer ${t.id} ${t.dir} ${t.size}: ${t.error ?? ''}`);
    assert.is(t.sha256_sender, t.sha256_receiver);
  }
}

test.before(async () => {
  try {
    lab = await Lab.up({ prefix: PREFIX, link: 'lan' });
    await lab.addGuest({ domid: 1, profile: 'modern' });
    await lab.addGuest({ domid: 2, profile: 'legacy' });
    await lab.startRemoteServer();
    await lab.serve('echo', lab.ns.remote, ['node', join(REPO, 'lab/tools/probe.mjs'), 'serve-echo', '7007'], 7007);
    await lab.serve('reset', lab.ns.remote, ['node', join(REPO, 'lab/tools/probe.mjs'), 'serve-reset', '7008'], 7008);
    const d = await lab.startDaemon('[daemon]\nlog_level = debug\n[profile k]\nengine = kernel\n[defaults]\nprofile = k\n');
    socket = d.socket;
    logPath = d.logPath;
    for (const vif of ['vif1.0', 'vif2.0']) await ctl({ op: 'attach', vif });
  } catch (e) { console.error('setup failed:', e); throw e; }
});

test.after(async () => { await lab?.down(); });

test('the daemon runs the kernel engine', async () => {
  const st = await status();
  assert.is(st.datapath?.state, 'loaded', JSON.stringify(st.datapath));
  assert.ok(st.datapath?.kernelEngine, JSON.stringify(st.datapath));
});

// The correctness cases (byte-exact 0 B-100 MB, parallel, half-close, resets,
// steering, set/drain/reset, restart, idle, vanishing guests) run with this
// engine in localack-kernel, edge-kernel and admin-kernel.test.ts; here what is
// the kernel engine's own.
test('large transfers stay byte-exact with every byte through the kernel (100 MB up, 300 MB down)', async () => {
  const before = (await status()).flowsTotal;
  const big = lab.transfer(1, { dir: 'up', size: '100m' });
  await sleep(300);
  const flows = await ctl<FlowInfo[]>({ op: 'flows' });
  allOk(await big);
  assert.ok(flows.some((f) => f.engine === 'kernel'), `a running transfer is relayed by the kernel: ${JSON.stringify(flows)}`);
  // 300 MB down: before the verdict cut TCP's repeated bytes (relay.bpf.c),
  // downloads this large through the lab's lan link arrived corrupted.
  allOk(await lab.transfer(1, { dir: 'down', size: '300m', timeoutSec: 240 }));
  allOk(await lab.transfer(1, { dir: 'down', size: '100m', ipv6: true }));
  assert.is((await status()).flowsTotal - before, 3, 'every transfer went through the service');
});

test('flows count the bytes the kernel relayed', async () => {
  const running = lab.probe(lab.guest(1).ns, ['hold', NET.remote4, '7007', '3']);
  await sleep(2500);
  const flows = await ctl<FlowInfo[]>({ op: 'flows', vif: 'vif1.0' });
  const f = flows.find((x) => x.remote === `${NET.remote4}:7007`);
  assert.ok(f, JSON.stringify(flows));
  assert.is(f!.engine, 'kernel');
  assert.ok(f!.relayedUp! > 0 && f!.relayedUp === f!.relayedDown, `echo: relayed ${f!.relayedUp} up, ${f!.relayedDown} down`);
  const r = await running;
  assert.is(r.error, null);
  assert.ok((r.echoed as number) >= 2);
});

test.run();

export { logPath };
