// Run-time administration and failure: attach, detach (drain and reset) and
// option changes while transfers run; xlnetd killed and restarted (fail-open);
// bad configurations.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { Lab, REPO } from '../lab.js';
import { call } from '../../plugin/src/daemon/client.js';
import { allOk, controller, ENGINE_SUFFIX } from './support.js';
import type { AttachmentInfo, StatusInfo } from '../../plugin/src/daemon/protocol.js';
import { run, sleep, waitFor } from '../exec.js';

const PREFIX = 'xlm' + ENGINE_SUFFIX;
let lab: Lab;
let socket = '';
const ctl = controller(() => socket);
const status = () => ctl<StatusInfo>({ op: 'status' });
const attached = async (vif: string) => (await ctl<AttachmentInfo[]>({ op: 'list' })).find((a) => a.vif === vif);


async function noXlnetTables(): Promise<void> {
  await waitFor('the xlnet nft tables to disappear', async () => {
    const r = await run(['nft', 'list', 'tables'], { ns: lab.ns.dom0 });
    return !r.stdout.includes('xlnet');
  }, 3000);
}

test.before(async () => {
  try {
    // 'wan' (1 Gbit/s, 150 ms RTT): transfers take long enough to act on them mid-way.
    lab = await Lab.up({ prefix: PREFIX, link: 'wan' });
    await lab.addGuest({ domid: 1, profile: 'legacy' });
    await lab.startRemoteServer();
    socket = (await lab.startDaemon('[daemon]\nlog_level = debug\n')).socket;
    await ctl({ op: 'attach', vif: 'vif1.0' });
  } catch (e) { console.error('setup failed:', e); throw e; }
});

test.after(async () => { await lab?.down(); });

test('option changes while transfers run break nothing and apply to new connections', async () => {
  const before = (await status()).flowsTotal;
  const running = lab.transfer(1, { dir: 'up', size: '8m', count: 4, parallel: 4 });
  await sleep(1500);
  const info = await ctl<AttachmentInfo>({ op: 'set', vif: 'vif1.0', options: { wan_cc: 'cubic', exclude_ports: '22,2222' } });
  assert.equal(info.options, { wan_cc: 'cubic', exclude_ports: '22,2222' });
  allOk(await running);
  allOk(await lab.transfer(1, { dir: 'down', size: '2m' }));
  assert.is((await status()).flowsTotal - before, 5);
});

test('detach --drain: running split transfers finish intact, new connections go direct', async () => {
  const before = (await status()).flowsTotal;
  const running = lab.transfer(1, { dir: 'up', size: '8m', count: 3, parallel: 3 });
  await sleep(1500);
  const d = await ctl<AttachmentInfo>({ op: 'detach', vif: 'vif1.0', mode: 'drain' });
  assert.is(d.state, 'draining');
  const direct = await lab.transfer(1, { dir: 'up', size: '1m' });
  allOk(direct);
  allOk(await running);
  assert.is((await status()).flowsTotal - before, 3, 'only the 3 running transfers were split');
  await sleep(200);
  assert.is(await attached('vif1.0'), undefined, 'the attachment is gone once its flows ended');
});

test('attach again while a direct transfer runs: it is untouched, the next one is split', async () => {
  const running = lab.transfer(1, { dir: 'down', size: '20m' });
  await sleep(1000);
  await ctl({ op: 'attach', vif: 'vif1.0' });
  allOk(await running);
  const before = (await status()).flowsTotal;
  allOk(await lab.transfer(1, { dir: 'up', size: '1m' }));
  assert.is((await status()).flowsTotal - before, 1);
});

test('detach --reset ends split connections with a reset at once', async () => {
  const running = lab.transfer(1, { dir: 'up', size: '200m', timeoutSec: 30 });
  await sleep(1500);
  await ctl({ op: 'detach', vif: 'vif1.0', mode: 'reset' });
  const r = await running;
  assert.not.ok(r.transfers[0]!.ok, 'the split transfer was reset');
  assert.match(r.transfers[0]!.error ?? '', /ECONNRESET|EPIPE|EOF|reset/i);
  assert.is(await attached('vif1.0'), undefined);
  allOk(await lab.transfer(1, { dir: 'up', size: '1m' }));
});

test('xlnetd killed: new guest connections still work (direct); restarted: split again', async () => {
  await ctl({ op: 'attach', vif: 'vif1.0' });
  await lab.stopDaemon('SIGKILL');
  // The steering dies with the daemon's nft session (owner tables): no xlnet table is left.
  await noXlnetTables();
  const r = await lab.transfer(1, { dir: 'up', size: '2m' });
  allOk(r);
  assert.is(r.transfers[0]!.peer_saw, r.transfers[0]!.local);
  socket = (await lab.startDaemon('[daemon]\nlog_level = debug\n')).socket;
  const a = await attached('vif1.0');
  assert.ok(a, 'the attachment was restored from the state directory');
  allOk(await lab.transfer(1, { dir: 'down', size: '2m' }));
  assert.is((await status()).flowsTotal, 1, 'the new daemon split the new connection');
});

test('a stopped xlnetd (SIGTERM) removes its rules and policy routes', async () => {
  await lab.stopDaemon('SIGTERM');
  assert.match(readFileSync(join(lab.dir, 'logs', 'xlnetd.log'), 'utf8'), 'xlnetd stopped');
  await noXlnetTables();
  const ipr = await run(['ip', 'rule'], { ns: lab.ns.dom0 });
  assert.not.match(ipr.stdout, '0x584e');
  allOk(await lab.transfer(1, { dir: 'up', size: '1m' }));
});

test('SIGTERM stops xlnetd at once even with a control client connected (xlnet top)', async () => {
  socket = (await lab.startDaemon('')).socket;
  const held = net.connect(socket);
  await new Promise((r) => held.once('connect', r));
  const t0 = Date.now();
  await lab.stopDaemon('SIGTERM');
  held.destroy();
  assert.ok(Date.now() - t0 < 2500, `xlnetd took ${Date.now() - t0} ms to stop`);
  assert.match(readFileSync(join(lab.dir, 'logs', 'xlnetd.log'), 'utf8'), 'xlnetd stopped');
});

test('a bad xlnet.conf stops xlnetd with an error naming file, line and key', async () => {
  const err = await lab.startDaemon('[profile sat]\nbuffer = 12q\n').then(() => undefined, (e: Error) => e);
  assert.ok(err, 'xlnetd must refuse the config');
  assert.match(err!.message, /xlnet\.conf:2/);
  assert.match(err!.message, /buffer/);
  assert.match(err!.message, /12q/);
});

test('xlnetd refuses bad arguments and a second instance on the same socket', async () => {
  const r = await run(['node', join(REPO, 'plugin/dist/daemon/main.js'), '--bogus'], { ns: lab.ns.dom0, allowFail: true });
  assert.is(r.code, 2);
  assert.match(r.stderr, 'bogus');
  socket = (await lab.startDaemon('')).socket;
  const conf = join(lab.dir, 'second.conf');
  writeFileSync(conf, '');
  const second = await run(['node', join(REPO, 'plugin/dist/daemon/main.js'), '--config', conf, '--socket', socket,
    '--state-dir', join(lab.dir, 'state2')], { ns: lab.ns.dom0, allowFail: true, timeoutMs: 20_000 });
  assert.is(second.code, 1);
  assert.match(second.stderr, 'already listening');
  assert.ok((await status()).pid > 0, 'the first daemon still answers');
});

test.run();
