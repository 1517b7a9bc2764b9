// `xlnet setup` without a terminal, against a scratch root (--root): what it
// writes, --dry-run, idempotence, --uninstall restoring the tree exactly.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, tempDir, xlnet } from './helpers.js';
import { snapshot } from './tree.js';

const WEB = `# the web server
name = "web"
memory = 512
vif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0', "bridge=xenbr1" ]
`;
const DB = `name = "db"
vif = [ 'bridge=xenbr0,script=vif-route' ]
`;

/** A fake host tree: /etc/xen with domain configs and xl.conf, an unrelated sysctl file. */
function fakeRoot(): { root: string; cleanup: () => void } {
  const { dir, cleanup } = tempDir('xlnet-setup-');
  mkdirSync(join(dir, 'etc/xen/scripts'), { recursive: true });
  mkdirSync(join(dir, 'etc/sysctl.d'), { recursive: true });
  writeFileSync(join(dir, 'etc/xen/web.cfg'), WEB);
  writeFileSync(join(dir, 'etc/xen/db.cfg'), DB, { mode: 0o600 });
  writeFileSync(join(dir, 'etc/xen/xl.conf'), '#vif.default.script="vif-bridge"\n');
  writeFileSync(join(dir, 'etc/xen/scripts/vif-bridge'), '#!/bin/sh\n', { mode: 0o755 });
  writeFileSync(join(dir, 'etc/sysctl.d/99-local.conf'), 'vm.swappiness = 10\n');
  return { root: dir, cleanup };
}

const read = (root: string, p: string): string => readFileSync(join(root, p), 'utf8');

test('--dry-run shows every change with its content and writes nothing', async () => {
  const { root, cleanup } = fakeRoot();
  try {
    const before = snapshot(root);
    const r = await xlnet(['setup', '--root', root, '--dry-run', '--profile', 'satellite', '--domain', 'web', '--method', 'hook']);
    assert.is(r.code, 0, r.err);
    assert.equal(snapshot(root), before);
    assert.ok(r.out.includes('Changes (dry run: nothing is written)'), r.out);
    for (const f of ['/etc/xen/xlnet.conf', '/etc/xen/scripts/vif-localack', '/etc/xen/scripts/vif-post.d/xlnet.hook',
      '/etc/sysctl.d/60-xlnet.conf', '/etc/systemd/system/xlnetd.service', '/var/lib/xlnet/setup-manifest.json']) {
      assert.ok(r.out.includes(`create  ${f}`), `${f} listed:\n${r.out}`);
    }
    assert.ok(r.out.includes('+net.ipv4.tcp_fwmark_accept = 1'), 'new files shown in full');
    assert.ok(r.out.includes('+[domain web]'));
    assert.ok(r.out.includes('+[profile satellite]'));
  } finally {
    cleanup();
  }
});

test('hook method: writes the config, scripts, sysctl drop-in, unit and manifest; guest configs untouched', async () => {
  const { root, cleanup } = fakeRoot();
  try {
    const r = await xlnet(['setup', '--root', root, '--yes', '--profile', 'satellite', '--domain', 'web', '--method', 'hook', '--bridge', 'xenbr0', '--bridge', 'xenbr1']);
    assert.is(r.code, 0, r.err + r.out);
    assert.ok(r.out.includes('Host\n  [ ok ] root'), 'shows the host checks first');
    assert.ok(r.out.includes('On the real host, start the daemon with:'), r.out);

    const conf = join(root, 'etc/xen/xlnet.conf');
    const check = await xlnet(['config', 'check', conf]);
    assert.is(check.code, 0, check.err);
    assert.ok(check.out.includes('profiles: default, satellite; default profile satellite; 1 [domain] rule'), check.out);
    assert.match(read(root, 'etc/xen/xlnet.conf'), /^# xlnet\.conf - written by `xlnet setup`/);
    assert.match(read(root, 'etc/xen/xlnet.conf'), /\[domain web\]\n(#.*\n)*localack = 1\n/);

    assert.is(statSync(join(root, 'etc/xen/scripts/vif-localack')).mode & 0o777, 0o755);
    assert.is(statSync(join(root, 'etc/xen/scripts/vif-post.d/xlnet.hook')).mode & 0o777, 0o755);
    assert.is(read(root, 'etc/xen/scripts/vif-localack'), read(REPO, 'hotplug-scripts/vif-localack'));

    const sysctl = read(root, 'etc/sysctl.d/60-xlnet.conf');
    assert.match(sysctl, /^net\.ipv4\.tcp_fwmark_accept = 1$/m);
    assert.match(sysctl, /^-net\.ipv4\.conf\.xenbr1\.rp_filter = 0$/m);
    assert.not.match(sysctl, /ip_forward/);
    if (existsSync('/proc/sys/net/bridge')) assert.match(sysctl, /^-net\.bridge\.bridge-nf-call-iptables = 0$/m);

    const unit = read(root, 'etc/systemd/system/xlnetd.service');
    assert.match(unit, /^ExecStart=.*(xlnetd|daemon\/main\.js) --config \/etc\/xen\/xlnet\.conf --cgroup current$/m);
    assert.not.match(unit, /@XLNET/);

    const m = JSON.parse(read(root, 'var/lib/xlnet/setup-manifest.json'));
    assert.is(m.version, 1);
    assert.equal(m.answers, { mode: 'bridge', bridges: ['xenbr0', 'xenbr1'], profile: 'satellite', domains: ['web'], method: 'hook', rewriteConfigs: false });
    assert.ok(m.files.some((f: { path: string }) => f.path === '/etc/xen/xlnet.conf'));
    assert.ok(m.dirs.includes('/var/lib/xlnet'));
    assert.is(read(root, 'etc/xen/web.cfg'), WEB);
    assert.ok(!existsSync(join(root, 'etc/xen/web.cfg.xlnet-backup')));
    assert.equal(
      (await import('node:fs')).readdirSync(join(root, 'etc/xen')).filter((n) => n.includes('xlnet-tmp')), [], 'no temp files left');
  } finally {
    cleanup();
  }
});

test('a second run with the same answers changes nothing and says so', async () => {
  const { root, cleanup } = fakeRoot();
  try {
    const args = ['setup', '--root', root, '--yes', '--profile', 'lossy', '--domain', 'web', '--method', 'script'];
    assert.is((await xlnet(args)).code, 0);
    const after = snapshot(root);
    const r = await xlnet(args);
    assert.is(r.code, 0, r.err);
    assert.ok(r.out.includes('Nothing to change: the host is already set up with these answers.'), r.out);
    assert.ok(r.out.includes('set up by xlnet'), 'shows the current state');
    assert.equal(snapshot(root), after);
    // --yes alone takes the recorded answers: still nothing to change.
    const again = await xlnet(['setup', '--root', root, '--yes']);
    assert.ok(again.out.includes('Nothing to change'), again.out);
  } finally {
    cleanup();
  }
});

test('--uninstall leaves the root exactly as before (files, modes, directories)', async () => {
  const { root, cleanup } = fakeRoot();
  try {
    const before = snapshot(root);
    assert.is((await xlnet(['setup', '--root', root, '--yes', '--profile', 'satellite', '--domain', 'web', '--domain', 'db', '--method', 'script'])).code, 0);
    assert.not.equal(snapshot(root), before);
    const dry = await xlnet(['setup', '--root', root, '--uninstall', '--dry-run']);
    assert.is(dry.code, 0);
    assert.ok(dry.out.includes('/etc/xen/web.cfg: restore the original from /etc/xen/web.cfg.xlnet-backup'), dry.out);
    const r = await xlnet(['setup', '--root', root, '--uninstall', '--yes']);
    assert.is(r.code, 0, r.err + r.out);
    assert.equal(snapshot(root), before);
    const none = await xlnet(['setup', '--root', root, '--uninstall', '--yes']);
    assert.is(none.code, 0);
    assert.ok(none.out.startsWith('Nothing to uninstall'), none.out);
  } finally {
    cleanup();
  }
});

test('script method: vif lines get script=vif-localack (vif-localack-route for vif-route), a backup is kept, the rest stays', async () => {
  const { root, cleanup } = fakeRoot();
  try {
    const r = await xlnet(['setup', '--root', root, '--yes', '--profile', 'default', '--domain', 'web', '--domain', 'db', '--method', 'script']);
    assert.is(r.code, 0, r.err);
    assert.ok(r.out.includes("-vif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0', \"bridge=xenbr1\" ]"), r.out);
    assert.is(read(root, 'etc/xen/web.cfg'), WEB.replace(
      `vif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0', "bridge=xenbr1" ]`,
      `vif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0,script=vif-localack', "bridge=xenbr1,script=vif-localack" ]`));
    assert.is(read(root, 'etc/xen/db.cfg'), "name = \"db\"\nvif = [ 'bridge=xenbr0,script=vif-localack-route' ]\n");
    assert.is(statSync(join(root, 'etc/xen/db.cfg')).mode & 0o777, 0o600, 'keeps the mode');
    assert.is(read(root, 'etc/xen/web.cfg.xlnet-backup'), WEB);
    // xlnet check agrees that web's vifs are now served.
    const c = await xlnet(['check', join(root, 'etc/xen/web.cfg'), '--config', join(root, 'etc/xen/xlnet.conf'), '--xl', 'stock', '--json']);
    const j = JSON.parse(c.out);
    assert.equal(j[0].vifs.map((v: { activation: string }) => v.activation), ['script', 'script']);
  } finally {
    cleanup();
  }
});

test('xl method adds localack=1; on a host with stock xl it warns', async () => {
  const { root, cleanup } = fakeRoot();
  try {
    const r = await xlnet(['setup', '--root', root, '--yes', '--profile', 'default', '--domain', 'web', '--method', 'xl']);
    assert.is(r.code, 0, r.err);
    assert.ok(read(root, 'etc/xen/web.cfg').includes(`'mac=00:16:3e:00:00:01,bridge=xenbr0,localack=1', "bridge=xenbr1,localack=1"`));
    assert.ok(r.out.includes('warning: xl on this host is stock'), r.out);
    const keep = await xlnet(['setup', '--root', root, '--yes', '--keep-configs', '--domain', 'db', '--method', 'xl']);
    assert.is(keep.code, 0);
    assert.is(read(root, 'etc/xen/db.cfg'), DB, '--keep-configs leaves configs alone');
  } finally {
    cleanup();
  }
});

test('an existing hand-written xlnet.conf is kept as a backup and restored by --uninstall', async () => {
  const { root, cleanup } = fakeRoot();
  try {
    const mine = '# mine\n[profile fast]\nbuffer = 8m\n';
    writeFileSync(join(root, 'etc/xen/xlnet.conf'), mine);
    const before = snapshot(root);
    const r = await xlnet(['setup', '--root', root, '--yes', '--profile', 'fast', '--domain', 'none', '--method', 'hook']);
    assert.is(r.code, 0, r.err);
    assert.ok(r.out.includes('profile fast'), 'offers profiles of the current file');
    assert.is(read(root, 'etc/xen/xlnet.conf.xlnet-backup'), mine);
    assert.match(read(root, 'etc/xen/xlnet.conf'), /\[profile fast\]\n(#.*\n)*buffer = 8m/);
    assert.is((await xlnet(['setup', '--root', root, '--uninstall', '--yes'])).code, 0);
    assert.equal(snapshot(root), before);
  } finally {
    cleanup();
  }
});

test('edits by hand survive a re-run that changes nothing; a changed answer changes only what it must', async () => {
  const { root, cleanup } = fakeRoot();
  try {
    const args = ['setup', '--root', root, '--yes', '--profile', 'satellite', '--domain', 'web', '--method', 'hook'];
    assert.is((await xlnet(args)).code, 0);
    const conf = join(root, 'etc/xen/xlnet.conf');
    writeFileSync(conf, read(root, 'etc/xen/xlnet.conf') + '# my note\n');
    const r = await xlnet(args);
    assert.ok(r.out.includes('Nothing to change'), r.out);
    assert.ok(read(root, 'etc/xen/xlnet.conf').endsWith('# my note\n'));
    const lossy = await xlnet([...args.slice(0, 4), '--profile', 'transcontinental', '--domain', 'web', '--method', 'hook']);
    assert.is(lossy.code, 0, lossy.err);
    const changed = lossy.out.split('\n').filter((l) => /^ {2}(create|update) /.test(l));
    assert.equal(changed.map((l) => l.trim().split(/\s+/)[1].replace(/:$/, '')), ['/etc/xen/xlnet.conf', '/var/lib/xlnet/setup-manifest.json']);
    assert.ok(lossy.out.includes('-profile = satellite\n+profile = transcontinental'), lossy.out);
  } finally {
    cleanup();
  }
});

test('--uninstall keeps a file changed since setup wrote it, and exits 1', async () => {
  const { root, cleanup } = fakeRoot();
  try {
    assert.is((await xlnet(['setup', '--root', root, '--yes', '--profile', 'default', '--domain', 'none', '--method', 'hook'])).code, 0);
    writeFileSync(join(root, 'etc/sysctl.d/60-xlnet.conf'), 'net.ipv4.tcp_fwmark_accept = 1 # mine now\n');
    const r = await xlnet(['setup', '--root', root, '--uninstall', '--yes']);
    assert.is(r.code, 1);
    assert.ok(r.out.includes('kept     /etc/sysctl.d/60-xlnet.conf: changed since setup wrote it'), r.out);
    assert.ok(existsSync(join(root, 'etc/sysctl.d/60-xlnet.conf')));
    assert.ok(!existsSync(join(root, 'etc/xen/xlnet.conf')));
  } finally {
    cleanup();
  }
});

test('route mode: forwarding in the drop-in, no bridge needed', async () => {
  const { root, cleanup } = fakeRoot();
  try {
    const r = await xlnet(['setup', '--root', root, '--yes', '--mode', 'route', '--profile', 'default', '--domain', 'none', '--method', 'hook']);
    assert.is(r.code, 0, r.err);
    assert.match(read(root, 'etc/sysctl.d/60-xlnet.conf'), /^net\.ipv4\.ip_forward = 1$/m);
    assert.ok(r.out.includes('vifs:       route mode'));
  } finally {
    cleanup();
  }
});

test('errors: no terminal and no answers, unknown profile or domain, a broken xlnet.conf - nothing written', async () => {
  const { root, cleanup } = fakeRoot();
  try {
    const before = snapshot(root);
    let r = await xlnet(['setup', '--root', root]);
    assert.is(r.code, 2);
    assert.ok(r.err.includes('no terminal to ask on, and no answer for: mode, profile, domains, method'), r.err);
    assert.ok(r.err.includes('--yes'));
    r = await xlnet(['setup', '--root', root, '--yes', '--profile', 'warp']);
    assert.is(r.code, 2);
    assert.ok(r.err.includes('--profile warp: no such profile (there are: default, satellite, transcontinental, lossy)'), r.err);
    r = await xlnet(['setup', '--root', root, '--yes', '--domain', 'mail', '--method', 'script']);
    assert.is(r.code, 2);
    assert.ok(r.err.includes('--domain mail: no config naming it'), r.err);
    r = await xlnet(['setup', '--root', root, '--uninstall', '--profile', 'x']);
    assert.is(r.code, 2);
    assert.equal(snapshot(root), before);
    writeFileSync(join(root, 'etc/xen/xlnet.conf'), '[profile x]\nbuffer = lots\n');
    const withBad = snapshot(root);
    r = await xlnet(['setup', '--root', root, '--yes']);
    assert.is(r.code, 1);
    assert.ok(r.err.includes('/etc/xen/xlnet.conf has errors'), r.err);
    assert.ok(r.err.includes(':2:'), 'names the line');
    assert.equal(snapshot(root), withBad);
  } finally {
    cleanup();
  }
});

test('--xen-dir offers the domain configs of another directory', async () => {
  const { root, cleanup } = fakeRoot();
  const other = tempDir('xlnet-xendir-');
  try {
    writeFileSync(join(other.dir, 'mail.cfg'), "name = \"mail\"\nvif = [ 'bridge=xenbr0' ]\n");
    const r = await xlnet(['setup', '--root', root, '--xen-dir', other.dir, '--dry-run', '--yes', '--domain', 'mail', '--method', 'script']);
    assert.is(r.code, 0, r.err);
    assert.ok(r.out.includes(`domain configs in ${other.dir}: mail`), r.out);
    assert.ok(r.out.includes("+vif = [ 'bridge=xenbr0,script=vif-localack' ]"), r.out);
  } finally {
    other.cleanup();
    cleanup();
  }
});

test.run();
