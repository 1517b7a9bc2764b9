// The smaller findings of issue 11 (6): a reload that would silently fall back
// to built-in defaults, a control client that makes xlnetd grow without bound,
// drained flows that lose their diversion, a Dom0 whose loopback has no IPv6,
// and the sysctl xlnetd changes and must give back.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { Lab, NET, REPO } from '../lab.js';
import { allOk, controller } from './support.js';
import type { AttachmentInfo, StatusInfo } from '../../plugin/src/daemon/protocol.js';
import { run, sh, sleep, waitFor } from '../exec.js';

const PREFIX = 'hr2';
let lab: Lab;
let socket = '';
const ctl = controller(() => socket);
const status = () => ctl<StatusInfo>({ op: 'status' });
const log = () => readFileSync(join(lab.dir, 'logs', 'xlnetd.log'), 'utf8');
const CONF = '[daemon]\nlog_level = debug\n[profile sat]\nidle_timeout = 30s\n';

test.before(async () => {
  try {
    lab = await Lab.up({ prefix: PREFIX, link: 'lan' });
    await lab.addGuest({ domid: 1 });
    await lab.startRemoteServer();
    await lab.serve('echo', lab.ns.remote, ['node', join(REPO, 'lab/tools/probe.mjs'), 'serve-echo', '7007'], 7007);
    socket = (await lab.startDaemon(CONF)).socket;
  } catch (e) { console.error('setup failed:', e); throw e; }
});

test.after(async () => { await lab?.down(); });

const sysctl = async (key: string) => (await run(['sysctl', '-n', key], { ns: lab.ns.dom0 })).stdout.trim();

test('reload with the config file deleted fails, names the file, and keeps the running config', async () => {
  const conf = join(lab.dir, 'xlnet.conf');
  const text = readFileSync(conf, 'utf8');
  rmSync(conf);
  try {
    const r = await run([join(lab.binDir, 'xlnet'), 'reload'], { env: { ...process.env, XLNET_SOCKET: socket }, allowFail: true });
    assert.is.not(r.code, 0, `xlnet reload must fail: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, conf, 'the error names the missing file');
    assert.ok((await status()).profiles.includes('sat'), 'the running configuration is kept');
    assert.not.match((await status()).configFile, 'built-in');
  } finally {
    writeFileSync(conf, text);
  }
});

test('a control client that pipelines requests without reading cannot make xlnetd grow', async () => {
  const pid = (await status()).pid;
  const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
  const before = rss();
  const line = Buffer.from(`${JSON.stringify({ v: 1, id: 1, op: 'list' })}\n`.repeat(2000));
  const c = net.connect(socket);
  c.on('error', () => undefined);
  await new Promise((r) => c.once('connect', r));
  c.pause(); // never read the answers
  const deadline = Date.now() + 8000;
  let sent = 0;
  while (Date.now() < deadline && !c.destroyed) {
    if (c.write(line)) sent += line.length;
    else await Promise.race([new Promise((r) => c.once('drain', r)), sleep(200)]);
  }
  const grown = rss() - before;
  // Meanwhile another client is served.
  assert.ok((await status()).pid === pid, 'xlnetd still answers other clients');
  c.destroy();
  assert.ok(grown < 40 * 1024 * 1024, `xlnetd grew by ${(grown / 1048576).toFixed(1)} MB (sent ${(sent / 1048576).toFixed(1)} MB of requests)`);
});

test('many idle control connections do not lock the daemon\'s control out', async () => {
  const held: net.Socket[] = [];
  try {
    for (let i = 0; i < 1200; i++) {
      const c = net.connect(socket);
      c.on('error', () => undefined);
      held.push(c);
    }
    await sleep(500);
    assert.ok((await status()).pid > 0, 'status still answers');
  } finally {
    for (const c of held) c.destroy();
  }
});

test('after detach --drain, a busy drained flow keeps its diversion fresh (the set element is updated)', async () => {
  await ctl({ op: 'reload' }); // the profile is there whatever an earlier test left
  await ctl({ op: 'attach', vif: 'vif1.0', profile: 'sat' });
  const id = (await ctl<AttachmentInfo[]>({ op: 'list' })).find((a) => a.vif === 'vif1.0')!.id;
  const holding = lab.probe(lab.guest(1).ns, ['hold', NET.remote4, '7007', '9'], 30_000);
  await waitFor('the held flow to be split', async () => (await status()).flows === 1, 5000);
  await ctl({ op: 'detach', vif: 'vif1.0', mode: 'drain' });
  await sleep(6000); // a line each second meanwhile
  // idle_timeout 30 s: the element's timeout is 90 s; each frame must refresh it.
  const set = await run(['nft', '-j', 'list', 'set', 'bridge', 'xlnet', `f4_${id}`], { ns: lab.ns.dom0 });
  const elems = (JSON.parse(set.stdout).nftables as Array<Record<string, { elem?: Array<{ elem?: { expires?: number } }> }>>)
    .flatMap((o) => o.set?.elem ?? []);
  const expires = elems.map((e) => e.elem?.expires ?? 0);
  assert.ok(expires.length >= 1, `the flow's element is in the set: ${set.stdout}`);
  assert.ok(Math.min(...expires) >= 87, `the element was not refreshed while the drained flow was busy: expires in ${expires.join(', ')} s of 90`);
  const r = await holding;
  assert.is(r.error, null);
  await waitFor('the drained attachment to go', async () => (await ctl<AttachmentInfo[]>({ op: 'list' })).length === 0, 5000);
});

test('a stopped xlnetd gives net.ipv4.tcp_fwmark_accept its previous value back', async () => {
  await lab.stopDaemon('SIGTERM');
  await run(['sysctl', '-qw', 'net.ipv4.tcp_fwmark_accept=0'], { ns: lab.ns.dom0 });
  socket = (await lab.startDaemon(CONF)).socket;
  assert.is(await sysctl('net.ipv4.tcp_fwmark_accept'), '1', 'xlnetd needs it while it runs');
  await lab.stopDaemon('SIGTERM');
  assert.match(log(), 'xlnetd stopped');
  assert.is(await sysctl('net.ipv4.tcp_fwmark_accept'), '0');
});

test('Dom0 with IPv6 disabled on loopback: xlnetd serves IPv4 and says IPv6 is off', async () => {
  await sh('sysctl -qw net.ipv6.conf.lo.disable_ipv6=1', { ns: lab.ns.dom0 });
  try {
    const from = log().length;
    socket = (await lab.startDaemon(CONF)).socket;
    assert.match(log().slice(from), /IPv6[^\n]*off/, 'the log says IPv6 is off');
    await ctl({ op: 'attach', vif: 'vif1.0' });
    const before = (await status()).flowsTotal;
    allOk(await lab.transfer(1, { dir: 'up', size: '1m' }));
    allOk(await lab.transfer(1, { dir: 'down', size: '1m' }));
    assert.is((await status()).flowsTotal - before, 2, 'IPv4 connections are split');
    // IPv6 connections are not split, and still work (direct).
    allOk(await lab.transfer(1, { dir: 'up', size: '200k', ipv6: true }));
    assert.is((await status()).flowsTotal - before, 2, 'IPv6 connections go direct');
    await lab.stopDaemon('SIGTERM');
  } finally {
    await sh('sysctl -qw net.ipv6.conf.lo.disable_ipv6=0', { ns: lab.ns.dom0 });
  }
});

test.run();
