// The virtual Dom0 lab itself: topology, the hotplug path, xenstore content,
// guest profiles, and that `down` leaves nothing behind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { Lab, NET, killAndWait } from '../lab.js';
import { run, waitFor } from '../exec.js';

const PREFIX = 'xlt';
let lab: Lab | undefined;

test.after(async () => { await lab?.down(); await Lab.down(PREFIX); });

async function ping(ns: string, addr: string): Promise<boolean> {
  const r = await run(['ping', '-c', '1', '-W', '2', addr], { ns, allowFail: true });
  return r.code === 0;
}

test('lab up builds Dom0, the bridge, the uplink, the gateway, the WAN and the remote', async () => {
  lab = await Lab.up({ prefix: PREFIX, link: 'lan' });
  const { stdout } = await run(['ip', 'netns', 'list']);
  for (const n of ['dom0', 'gw', 'wan', 'remote']) assert.ok(stdout.includes(`${PREFIX}-${n}`), `namespace ${PREFIX}-${n}`);
  const br = await run(['ip', '-j', 'link', 'show', 'xenbr0'], { ns: lab.ns.dom0 });
  const link = JSON.parse(br.stdout)[0] as { address: string };
  assert.is(link.address, NET.bridgeMac);
  assert.ok(await ping(lab.ns.dom0, NET.remote4), 'Dom0 reaches the remote over IPv4');
  assert.ok(await ping(lab.ns.dom0, NET.remote6), 'Dom0 reaches the remote over IPv6');
});

test('a bridged guest comes up through the vif-bridge hotplug script and reaches everything', async () => {
  const g = await lab!.addGuest({ domid: 3, profile: 'modern' });
  const xs = lab!.requireXs();
  assert.is(await xs.read(`/local/domain/0/backend/vif/3/0/hotplug-status`), 'connected');
  const master = await run(['ip', '-j', 'link', 'show', g.vif], { ns: lab!.ns.dom0 });
  assert.is((JSON.parse(master.stdout)[0] as { master?: string }).master, 'xenbr0', 'vif enslaved to xenbr0 by vif-bridge');
  for (const a of [NET.dom0_4, NET.gwLan4, NET.remote4, NET.dom0_6, NET.remote6]) assert.ok(await ping(g.ns, a), `guest reaches ${a}`);
});

test('the backend directory holds what libxl writes, with the domain name', async () => {
  const xs = lab!.requireXs();
  const keys = (await xs.directory('/local/domain/0/backend/vif/3/0')).sort();
  for (const k of ['frontend', 'frontend-id', 'online', 'state', 'script', 'mac', 'bridge', 'handle', 'type', 'hotplug-status']) {
    assert.ok(keys.includes(k), `backend key ${k}`);
  }
  assert.is(await xs.read('/local/domain/0/backend/vif/3/0/bridge'), 'xenbr0');
  assert.is(await xs.read('/local/domain/0/backend/vif/3/0/mac'), '00:16:3e:00:00:03');
  assert.ok((await xs.read('/local/domain/0/backend/vif/3/0/script')).endsWith('/vif-bridge'));
  assert.is(await xs.read('/local/domain/3/name'), 'guest3');
  assert.is(await xs.read('/libxl/3/device/vif/0/frontend'), '/local/domain/3/device/vif/0');
});

test('a routed guest comes up through vif-route and reaches the remote', async () => {
  const g = await lab!.addGuest({ domid: 4, mode: 'route' });
  const routes = await run(['ip', 'route', 'show', 'dev', g.vif], { ns: lab!.ns.dom0 });
  assert.match(routes.stdout, g.ip4, 'vif-route added the host route');
  assert.ok(await ping(g.ns, NET.remote4), 'routed guest reaches the remote');
});

test('guest TCP profiles are applied per namespace', async () => {
  const g = await lab!.addGuest({ domid: 5, profile: 'legacy' });
  const ws = await run(['sysctl', '-n', 'net.ipv4.tcp_window_scaling', 'net.ipv4.tcp_sack'], { ns: g.ns });
  assert.equal(ws.stdout.trim().split('\n'), ['0', '0']);
  const m = await run(['sysctl', '-n', 'net.ipv4.tcp_window_scaling'], { ns: lab!.guest(3).ns });
  assert.is(m.stdout.trim(), '1');
});

test('a vif goes down through `<script> offline`: netdev and backend gone', async () => {
  await lab!.removeGuest(5);
  const l = await run(['ip', 'link', 'show', 'vif5.0'], { ns: lab!.ns.dom0, allowFail: true });
  assert.is.not(l.code, 0);
  assert.is(await lab!.requireXs().tryRead('/local/domain/0/backend/vif/5'), undefined);
  const ns = await run(['ip', 'netns', 'list']);
  assert.not.ok(ns.stdout.includes(`${PREFIX}-g5`));
});

test('a hotplug script that fails is reported like libxl does (hotplug-error)', async () => {
  const err = await lab!.addGuest({ domid: 6, script: 'no-such-script' }).then(() => undefined, (e: Error) => e);
  assert.ok(err, 'adding a guest with a missing script fails');
  await lab!.removeGuest(6).catch(() => undefined);
});

test('the link profile switches to the WAN emulator and back', async () => {
  await lab!.setLink('wan');
  const r = await run(['ping', '-c', '3', '-i', '0.2', NET.remote4], { ns: lab!.guest(3).ns });
  const rtt = Number(/= [\d.]+\/([\d.]+)\//.exec(r.stdout)?.[1]);
  assert.ok(rtt >= 149 && rtt < 160, `RTT ${rtt} ms on 'wan' (150 ms)`);
  await lab!.setLink('lan');
  assert.ok(await ping(lab!.guest(3).ns, NET.remote4));
});

test('lab down removes every namespace, process and file', async () => {
  const dir = lab!.dir;
  await lab!.down();
  lab = undefined;
  const ns = await run(['ip', 'netns', 'list']);
  assert.not.ok(ns.stdout.includes(`${PREFIX}-`), ns.stdout);
  assert.not.ok(existsSync(dir));
  const ps = await run(['pgrep', '-f', `/run/xlnet-lab/${PREFIX}/`], { allowFail: true });
  assert.is(ps.stdout.trim(), '');
});

test('a lab whose owner was killed is removed by Lab.down(prefix)', async () => {
  // A separate process builds a lab and is SIGKILLed: nothing of it may survive `down`.
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', `
    import { Lab } from './lab/lab.ts';
    const lab = await Lab.up({ prefix: '${PREFIX}', link: 'wan' });
    await lab.addGuest({ domid: 7 });
    console.log('UP');
    setInterval(() => {}, 1000);
  `], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  await waitFor('the child lab', () => out.includes('UP'), 60_000);
  await killAndWait(child.pid!, 0);
  await Lab.down(PREFIX);
  const ns = await run(['ip', 'netns', 'list']);
  assert.not.ok(ns.stdout.includes(`${PREFIX}-`), ns.stdout);
  const ps = await run(['pgrep', '-f', 'wanem|xenstored'], { allowFail: true });
  for (const pid of ps.stdout.split('\n').filter(Boolean)) {
    const cmd = await run(['cat', `/proc/${pid}/cmdline`], { allowFail: true });
    assert.not.ok(cmd.stdout.includes(`/run/xlnet-lab/${PREFIX}/`), `leftover process ${pid}: ${cmd.stdout}`);
  }
});

test.run();
