// The verbs against the real xlnetd (plugin/src/daemon/main.ts), run in a
// network namespace of this test's own (its nft rules stay there) with a
// bridge and a veth named like a vif, so attach/set/detach really happen.
// Guest traffic through an attached vif is the lab's business.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, tempDir, xlnet } from './helpers.js';

const NS = `xlnetcli-${process.pid}`;
const { dir, cleanup } = tempDir('xlnet-daemon-');
const SOCK = join(dir, 'xlnetd.sock');
const CONF = join(dir, 'xlnet.conf');
let daemon: ChildProcess | undefined;
let daemonLog = '';

function sh(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
}

test.before(async () => {
  writeFileSync(CONF, `[daemon]\nstate_dir = ${join(dir, 'state')}\n\n[profile sat]\nbuffer = 32m\n`);
  sh(['netns', 'add', NS]);
  for (const cmd of [
    ['link', 'set', 'lo', 'up'],
    ['link', 'add', 'xenbr0', 'type', 'bridge'],
    ['link', 'add', 'vif9.0', 'type', 'veth', 'peer', 'name', 'guest9'],
    ['link', 'set', 'vif9.0', 'master', 'xenbr0'],
    ['link', 'set', 'vif9.0', 'up'],
    ['link', 'set', 'xenbr0', 'up'],
  ]) sh(['-n', NS, ...cmd]);
  daemon = spawn('ip', ['netns', 'exec', NS, process.execPath, '--import', 'tsx', join(REPO, 'plugin/src/daemon/main.ts'),
    '--config', CONF, '--socket', SOCK, '--state-dir', join(dir, 'state')], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  daemon.stdout!.on('data', (d) => { daemonLog += d; });
  daemon.stderr!.on('data', (d) => { daemonLog += d; });
  for (let i = 0; i < 300 && !existsSync(SOCK); i++) await new Promise((r) => setTimeout(r, 100));
  if (!existsSync(SOCK)) throw new Error(`xlnetd did not create ${SOCK} within 30 s:\n${daemonLog}`);
});

test.after(async () => {
  if (daemon && daemon.exitCode === null) {
    const exited = new Promise((r) => daemon!.once('exit', r));
    daemon.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (daemon.exitCode === null) daemon.kill('SIGKILL');
  }
  spawnSync('ip', ['netns', 'del', NS]);
  cleanup();
});

const s = ['--socket', SOCK];

test('status and version of the real daemon', async () => {
  const r = await xlnet(['status', ...s]);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /^xlnetd \d+\.\d+\.\d+ running \(pid \d+, up \d+s, protocol 1\)\n/);
  assert.match(r.out, new RegExp(`^ {2}config +${CONF}$`, 'm'));
  assert.match(r.out, /^ {2}profiles +default, sat$/m);
  assert.ok(r.out.includes('no vifs attached'));
  const j = JSON.parse((await xlnet(['status', '--json', ...s])).out);
  assert.is(j.daemon.protocol, 1);
  assert.equal(j.attachments, []);
  const v = await xlnet(['version', ...s]);
  assert.match(v.out, /^xlnetd \d+\.\d+\.\d+ \(control protocol 1\)$/m);
});

test('attach, set, flows, detach a vif: what status shows at each step', async () => {
  let r = await xlnet(['attach', 'vif9.0', '--profile', 'sat', '--option', 'buffer=8m', '--domain', 'web', ...s]);
  assert.is(r.code, 0, r.err);
  assert.is(r.out, 'attached vif9.0 (profile sat, buffer=8m)\n');
  r = await xlnet(['status', ...s]);
  assert.match(r.out, /^vif9\.0 +web +bridge +xenbr0 +sat \+1 option +active +0 +0 +0 +0 B +0 B$/m);
  r = await xlnet(['set', 'vif9.0', '--profile', 'default', ...s]);
  assert.is(r.code, 0, r.err);
  assert.ok(r.out.startsWith('updated vif9.0 (profile default'), r.out);
  const list = JSON.parse((await xlnet(['status', '--json', ...s])).out).attachments;
  assert.is(list[0].profile, 'default');
  r = await xlnet(['flows', 'vif9.0', ...s]);
  assert.is(r.out, 'no split connections on vif9.0\n');
  assert.equal(JSON.parse((await xlnet(['flows', '--json', ...s])).out), []);
  r = await xlnet(['top', ...s]);
  assert.is(r.code, 0);
  assert.match(r.out, /^vif9\.0 /m);
  r = await xlnet(['detach', 'vif9.0', ...s]);
  assert.is(r.code, 0, r.err);
  assert.ok(r.out.startsWith('detached vif9.0'), r.out);
  assert.ok((await xlnet(['status', ...s])).out.includes('no vifs attached'));
});

test('refusals of the real daemon exit 1 with its reason', async () => {
  let r = await xlnet(['attach', 'vif77.0', ...s]);
  assert.is(r.code, 1);
  assert.ok(r.err.includes('(E_NO_VIF)'), r.err);
  r = await xlnet(['detach', 'vif9.0', ...s]);
  assert.is(r.code, 1);
  assert.ok(r.err.includes('(E_NOT_ATTACHED)'), r.err);
  r = await xlnet(['attach', 'vif9.0', '--profile', 'nosuch', ...s]);
  assert.is(r.code, 1);
  assert.ok(r.err.includes('(E_UNKNOWN_PROFILE)'), r.err);
  r = await xlnet(['attach', 'vif9.0', '--option', 'buffer=lots', ...s]);
  assert.is(r.code, 1);
  assert.ok(r.err.includes('(E_BAD_OPTION)'), r.err);
  assert.is((await xlnet(['attach', 'vif9.0', ...s])).code, 0);
  r = await xlnet(['attach', 'vif9.0', ...s]);
  assert.is(r.code, 1);
  assert.ok(r.err.includes('(E_ALREADY_ATTACHED)'), r.err);
  assert.is((await xlnet(['detach', 'vif9.0', '--reset', ...s])).code, 0);
});

test('reload re-reads the file', async () => {
  writeFileSync(CONF, `[daemon]\nstate_dir = ${join(dir, 'state')}\n\n[profile sat]\nbuffer = 32m\n\n[profile far]\nwan_cc = bbr\n`);
  const r = await xlnet(['reload', ...s]);
  assert.is(r.code, 0, r.err);
  assert.match((await xlnet(['status', ...s])).out, /^ {2}profiles +default, sat, far$/m);
});

test('once the daemon is gone, every verb exits 3', async () => {
  const exited = new Promise((r) => daemon!.once('exit', r));
  daemon!.kill('SIGTERM');
  await exited;
  const r = await xlnet(['status', ...s]);
  assert.is(r.code, 3, r.err);
  assert.ok(r.err.includes(SOCK));
});

test.run();
