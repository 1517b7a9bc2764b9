// xlnetd with its BPF datapath: a profile's WAN-leg tuning reaches the WAN leg
// of a split connection (and not the guest leg), the kernel's counters show the
// bytes a transfer moved, `status` says the datapath runs, and xlnetd still
// splits connections when the datapath cannot load.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { Lab, NET, REPO, type XferReport } from '../lab.js';
import { call } from '../../plugin/src/daemon/client.js';
import type { AttachmentInfo, FlowInfo, StatusInfo } from '../../plugin/src/daemon/protocol.js';
import { run, sleep, start, waitFor } from '../exec.js';

const PREFIX = 'xkid';
let lab: Lab;
let socket = '';
const ctl = <T>(req: Parameters<typeof call>[0]) => call<T>(req, { socket });

function allOk(r: XferReport): void {
  for (const t of r.transfers) assert.ok(t.ok && t.sha256_sender === t.sha256_receiver, `transfer ${t.id}: ${t.error ?? 'hash differs'}`);
}

test.before(async () => {
  lab = await Lab.up({ prefix: PREFIX, link: 'lan' });
  await lab.addGuest({ domid: 1, profile: 'modern' });
  await lab.startRemoteServer();
  await lab.serve('echo', lab.ns.remote, ['node', join(REPO, 'lab/tools/probe.mjs'), 'serve-echo', '7007'], 7007);
  // cubic keeps cwnd where TCP_BPF_IW put it while little data flows (bbr would probe).
  socket = (await lab.startDaemon('[profile iw40]\nwan_initcwnd = 40\nwan_cc = cubic\nengine = user\n[defaults]\nprofile = iw40\n')).socket;
  await ctl({ op: 'attach', vif: 'vif1.0' });
});

test.after(async () => { await lab?.down(); });

/** `ss -tin` of the established socket between `local` and `peer` port in Dom0. */
async function cwndOf(filter: string): Promise<number> {
  const r = await run(['ss', '-tinH', 'state', 'established', filter], { ns: lab.ns.dom0 });
  const m = /\bcwnd:(\d+)/.exec(r.stdout);
  if (!m) throw new Error(`no established socket for ${filter}: ${r.stdout}`);
  return Number(m[1]);
}

test('status reports the datapath loaded in xlnetd\'s own cgroup', async () => {
  const st = await ctl<StatusInfo>({ op: 'status' });
  assert.ok(st.datapath, 'status has a datapath section');
  assert.is(st.datapath!.state, 'loaded', JSON.stringify(st.datapath));
  assert.match(st.datapath!.cgroup ?? '', /xlnet\.slice\/xlnetd/);
});

test('wan_initcwnd = 40: the WAN leg starts with cwnd 40, the guest leg with the kernel default', async () => {
  const holding = lab.probe(lab.guest(1).ns, ['hold', NET.remote4, '7007', '3']);
  // Before the first line (1 s after connect): after an idle RTO the kernel
  // restarts cwnd at 10. Polled: a loaded machine may take long to start the probe.
  const wan = await waitFor('the WAN leg', () => cwndOf('( dport = :7007 )').catch(() => undefined), 10_000, 20);
  const guest = await cwndOf('( sport = :7007 )');
  assert.is(wan, 40, 'WAN leg cwnd');
  assert.is(guest, 10, 'guest leg: TCP_INIT_CWND');
  await sleep(1100);
  const flows = await ctl<FlowInfo[]>({ op: 'flows', vif: 'vif1.0' });
  const f = flows.find((x) => x.remote === `${NET.remote4}:7007`);
  assert.ok(f, JSON.stringify(flows));
  assert.is(f!.counters, 'kernel', 'flows takes bytes from the kernel counters');
  assert.ok(f!.bytesUp > 0 && f!.bytesUp === f!.bytesDown, `echo: as many bytes back as sent (${f!.bytesUp}/${f!.bytesDown})`);
  const r = await holding;
  assert.is(r.error, null);
});

test('the vif\'s kernel counters match what xfer moved (10 MB up, 10 MB down)', async () => {
  const before = (await ctl<AttachmentInfo[]>({ op: 'list' }))[0]!.kernelCounters!;
  allOk(await lab.transfer(1, { dir: 'up', size: 10_000_000 }));
  allOk(await lab.transfer(1, { dir: 'down', size: 10_000_000 }));
  await sleep(300); // the last ACKs and FINs of the close
  const after = (await ctl<AttachmentInfo[]>({ op: 'list' }))[0]!.kernelCounters!;
  const d = (leg: 'guest' | 'wan', k: 'bytesAcked' | 'bytesReceived') => after[leg][k] - before[leg][k];
  console.log('counter deltas', { wanAcked: d('wan', 'bytesAcked'), wanReceived: d('wan', 'bytesReceived'), guestAcked: d('guest', 'bytesAcked'), guestReceived: d('guest', 'bytesReceived') });
  // Each direction: 10 MB of payload plus xfer's request/trailer and one SYN/FIN each:
  // a few hundred bytes at most.
  const near = (v: number, what: string) => assert.ok(v >= 10_000_000 && v <= 10_000_000 + 4096, `${what} = ${v}`);
  near(d('wan', 'bytesAcked'), 'WAN leg: bytes the remote acknowledged');
  near(d('wan', 'bytesReceived'), 'WAN leg: bytes received from the remote');
  near(d('guest', 'bytesReceived'), 'guest leg: bytes received from the guest');
  near(d('guest', 'bytesAcked'), 'guest leg: bytes the guest acknowledged');
  assert.is(after.wan.flows - before.wan.flows, 2);
});

test('engine = kernel runs the kernel relay; auto runs the engine that measured better (user)', async () => {
  const st = await ctl<StatusInfo>({ op: 'status' });
  assert.is(st.datapath?.kernelEngine, true);
  assert.is(st.datapath?.autoEngine, 'user');
  // A connection held open for 2 s while the vif's engine is `engine`: flows names the one relaying it.
  const relayedBy = async (engine: string, expected: string) => {
    await ctl({ op: 'set', vif: 'vif1.0', options: { engine } });
    // Held 8 s; flows is polled until the connection shows (a loaded machine
    // may take seconds to start the probe: a fixed sleep saw none).
    const before = new Set((await ctl<FlowInfo[]>({ op: 'flows', vif: 'vif1.0' })).map((f) => f.id));
    const holding = lab.probe(lab.guest(1).ns, ['hold', NET.remote4, '7007', '8']);
    const flows = await waitFor('the held flow', async () => {
      const fresh = (await ctl<FlowInfo[]>({ op: 'flows', vif: 'vif1.0' })).filter((f) => !before.has(f.id));
      return fresh.length > 0 ? fresh : undefined;
    }, 6000, 100).catch(() => [] as FlowInfo[]);
    assert.ok(flows.length > 0 && flows.every((f) => f.engine === expected), `engine = ${engine}: ${JSON.stringify(flows)}`);
    assert.is((await holding).error, null);
  };
  await relayedBy('kernel', 'kernel');
  await relayedBy('auto', 'user');
});

test('without a usable cgroup, xlnetd warns, says so in status, and still splits', async () => {
  await lab.stopDaemon();
  // A cgroup outside the hierarchy: the datapath cannot load.
  const conf = join(lab.dir, 'xlnet.conf');
  const sock = join(lab.dir, 'xlnetd-nobpf.sock');
  const p = start(['env', 'XLNET_CGROUP=../outside', 'node', join(REPO, 'plugin/dist/daemon/main.js'), '--config', conf, '--socket', sock,
    '--state-dir', join(lab.dir, 'state-nobpf')], { ns: lab.ns.dom0 });
  try {
    for (let i = 0; i < 100; i++) {
      const ok = await call<StatusInfo>({ op: 'status' }, { socket: sock }).then(() => true, () => false);
      if (ok) break;
      await sleep(100);
    }
    const st = await call<StatusInfo>({ op: 'status' }, { socket: sock });
    assert.is(st.datapath?.state, 'unavailable');
    assert.match(st.datapath?.reason ?? '', /cgroup/);
    await call({ op: 'attach', vif: 'vif1.0' }, { socket: sock });
    allOk(await lab.transfer(1, { dir: 'up', size: 1_000_000 }));
    const kernel = await call<unknown>({ op: 'attach', vif: 'vif1.0' }, { socket: sock }).catch((e: { code: string }) => e.code);
    assert.is(kernel, 'E_ALREADY_ATTACHED');
    const refused = await call<unknown>({ op: 'set', vif: 'vif1.0', options: { engine: 'kernel' } }, { socket: sock })
      .then(() => 'accepted', (e: { code: string; message: string }) => `${e.code}: ${e.message}`);
    assert.match(refused, /E_BAD_OPTION: engine = kernel needs the BPF kernel relay/);
  } finally {
    p.kill('SIGTERM');
    await new Promise((r) => p.once('exit', r));
  }
});

test.run();
