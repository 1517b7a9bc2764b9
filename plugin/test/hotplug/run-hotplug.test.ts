// `xlnet hotplug online|offline` against a real xenstored (lab/xenstore) and
// without a reachable xlnetd: no socket at all, a socket left by a killed
// daemon, and a daemon that accepts but never answers. What is checked is
// what the hotplug script and the operator see: exit code, the one summary
// line, the backend's xlnet-status key, and how long it took.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLabXenstored, type LabXenstored } from '../../../lab/xenstore/xenstored.ts';
import { XenstoreClient } from '../../src/xen/xenstore.js';
import { writeVifBackend, type VifSpec } from '../../src/xen/vif-backend.js';
import { hotplug, runHotplug, type HotplugOptions, type HotplugResult } from '../../src/hotplug/run-hotplug.js';
import { main } from '../../src/hotplug/main.js';

interface World {
  xsd: LabXenstored;
  xs: XenstoreClient;
  dir: string;
  /** A socket path nobody listens on. */
  noDaemon: string;
  env(domid: number, extra?: Record<string, string>): NodeJS.ProcessEnv;
  addVif(spec: Partial<VifSpec> & { domid: number }, name?: string): Promise<string>;
  run(action: 'online' | 'offline', env: NodeJS.ProcessEnv, opts?: HotplugOptions): Promise<HotplugResult & { log: string[]; ms: number }>;
}

async function withWorld(fn: (w: World) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'xhp-'));
  const xsd = await startLabXenstored(join(dir, 'xenstore'));
  const xs = await XenstoreClient.connect({ path: xsd.socketPath });
  const w: World = {
    xsd, xs, dir,
    noDaemon: join(dir, 'xlnetd.sock'),
    env: (domid, extra = {}) => ({
      XENBUS_TYPE: 'vif', XENBUS_PATH: `backend/vif/${domid}/0`, XENBUS_BASE_PATH: 'backend', vif: `vif${domid}.0`,
      XENSTORED_PATH: xsd.socketPath, XLNET_SOCKET: join(dir, 'xlnetd.sock'), XLNET_CONF: join(dir, 'xlnet.conf'), ...extra,
    }),
    async addVif(spec, name) {
      if (name !== undefined) await xs.write(`/local/domain/${spec.domid}/name`, name);
      return writeVifBackend(xs, { devid: 0, mac: `00:16:3e:00:00:${spec.domid.toString(16).padStart(2, '0')}`, ...spec });
    },
    async run(action, env, opts = {}) {
      const log: string[] = [];
      const out: string[] = [];
      const t = Date.now();
      const r = await hotplug(action, env, { log: (l) => log.push(l), out: (l) => out.push(l), ...opts });
      const ms = Date.now() - t;
      assert.equal(out, [r.summary], 'exactly one summary line on stdout');
      return { ...r, log, ms };
    },
  };
  try {
    await fn(w);
  } finally {
    await xs.close();
    await xsd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const status = (w: World, domid: number) => w.xs.tryRead(`/local/domain/0/backend/vif/${domid}/0/xlnet-status`);

test('script=vif-localack without xlnetd: the vif comes up unsplit, with a warning and xlnet-status', () =>
  withWorld(async (w) => {
    await w.addVif({ domid: 3, script: 'vif-localack' }, 'web1');
    const r = await w.run('online', w.env(3));
    assert.is(r.code, 0);
    assert.match(r.summary, /^vif3\.0: running without local acknowledgement: cannot reach xlnetd at .*xlnetd\.sock: no such socket/);
    assert.ok(r.log.some((l) => /domain web1 devid 0: on \(script vif-localack\), profile default, not required/.test(l)), r.log.join('\n'));
    assert.ok(r.log.some((l) => /warning: cannot reach xlnetd/.test(l)));
    assert.match((await status(w, 3)) ?? '', /^unavailable:cannot reach xlnetd at /);
    assert.ok(r.ms < 2000, `took ${r.ms} ms`);
  }));

test('backend localack=required without xlnetd: exit 10 and a one-line reason for fatal', () =>
  withWorld(async (w) => {
    await w.addVif({ domid: 4, localack: 'required' }, 'db1');
    const r = await w.run('online', w.env(4));
    assert.is(r.code, 10);
    assert.not.match(r.summary, /\n/);
    assert.match(r.summary, /^vif4\.0: local acknowledgement is required \(backend localack=required\) but cannot reach xlnetd/);
    assert.match((await status(w, 4)) ?? '', /^unavailable:/);
  }));

test('[defaults] required = yes makes script=vif-localack fail without xlnetd', () =>
  withWorld(async (w) => {
    writeFileSync(join(w.dir, 'xlnet.conf'), '[defaults]\nrequired = yes\n');
    await w.addVif({ domid: 5, script: '/etc/xen/scripts/vif-localack' }, 'g5');
    const r = await w.run('online', w.env(5));
    assert.is(r.code, 10);
    assert.match(r.summary, /required \(script vif-localack\)/);
  }));

test('a [domain] rule turns a plain vif on; an unlisted domain is marked disabled and xlnetd is not asked', () =>
  withWorld(async (w) => {
    writeFileSync(join(w.dir, 'xlnet.conf'), '[profile sat]\nbuffer = 16m\n\n[domain web-*]\nlocalack = sat\n');
    await w.addVif({ domid: 6 }, 'web-6');
    const on = await w.run('online', w.env(6));
    assert.is(on.code, 0);
    assert.ok(on.log.some((l) => /on \(\[domain web-\*\] localack = sat\), profile sat/.test(l)), on.log.join('\n'));
    assert.ok(on.log.some((l) => /attaching \(profile sat\)/.test(l)));
    await w.addVif({ domid: 7 }, 'db-7');
    const off = await w.run('online', w.env(7));
    assert.is(off.code, 0);
    assert.match(off.summary, /^vif7\.0: no local acknowledgement \(no localack key, script or \[domain\] rule\)/);
    assert.is(await status(w, 7), 'disabled');
    assert.not.ok(off.log.some((l) => /attaching/.test(l)), 'no attach attempt for a vif that does not ask');
  }));

test('an unknown profile in the backend key: the vif comes up unsplit and says why, xlnetd is not asked', () =>
  withWorld(async (w) => {
    await w.addVif({ domid: 8, localack: 'nosuch' }, 'g8');
    const r = await w.run('online', w.env(8));
    assert.is(r.code, 0);
    assert.match(r.summary, /running without local acknowledgement: .*no profile named nosuch/);
    assert.not.ok(r.log.some((l) => /attaching/.test(l)));
    assert.match((await status(w, 8)) ?? '', /^unavailable:.*no profile named nosuch/);
  }));

test('a broken xlnet.conf fails a required vif with the file and line', () =>
  withWorld(async (w) => {
    writeFileSync(join(w.dir, 'xlnet.conf'), '[defaults]\nrequird = yes\n');
    await w.addVif({ domid: 9, localack: 'required' }, 'g9');
    const r = await w.run('online', w.env(9));
    assert.is(r.code, 10);
    assert.match(r.summary, /xlnet\.conf is invalid: .*xlnet\.conf:2/);
  }));

test('a socket left behind by a killed xlnetd: unreachable, quickly', () =>
  withWorld(async (w) => {
    const sock = join(w.dir, 'stale.sock');
    // A real listener in another process, killed hard: its socket file stays.
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.ok(existsSync(sock), 'the stale socket file is there');
    await w.addVif({ domid: 10, localack: '1' }, 'g10');
    const r = await w.run('online', w.env(10, { XLNET_SOCKET: sock }));
    assert.is(r.code, 0);
    assert.match(r.summary, /connection refused: xlnetd is not running/);
    assert.ok(r.ms < 2000, `took ${r.ms} ms`);
  }));

test('an xlnetd that accepts but never answers: the attach times out, required or not', () =>
  withWorld(async (w) => {
    const sock = join(w.dir, 'hung.sock');
    const held: net.Socket[] = [];
    const server = net.createServer((s) => { held.push(s); });
    await new Promise<void>((r) => server.listen(sock, r));
    try {
      await w.addVif({ domid: 11, localack: '1' }, 'g11');
      const soft = await w.run('online', w.env(11, { XLNET_SOCKET: sock }), { daemonTimeoutMs: 300 });
      assert.is(soft.code, 0);
      assert.match(soft.summary, /xlnetd did not answer 'attach' within 300 ms/);
      assert.ok(soft.ms < 1500, `took ${soft.ms} ms`);
      await w.addVif({ domid: 12, localack: 'required' }, 'g12');
      const hard = await w.run('online', w.env(12, { XLNET_SOCKET: sock }), { daemonTimeoutMs: 300 });
      assert.is(hard.code, 10);
      assert.match(hard.summary, /required .* but xlnetd did not answer/);
    } finally {
      for (const s of held) s.destroy();
      await new Promise((r) => server.close(r));
    }
  }));

test('a caller that waits for its event loop (like the xlnet CLI) exits once the attach timed out', () =>
  withWorld(async (w) => {
    const sock = join(w.dir, 'hung.sock');
    const held: net.Socket[] = [];
    const server = net.createServer((s) => { held.push(s); });
    await new Promise<void>((r) => server.listen(sock, r));
    try {
      await w.addVif({ domid: 18, localack: '1' }, 'g18');
      const entry = new URL('../../src/hotplug/run-hotplug.ts', import.meta.url).href;
      const script = `const m = await import(${JSON.stringify(entry)});
        process.exitCode = await m.runHotplug('online', process.env, { daemonTimeoutMs: 300 });`;
      const t = Date.now();
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script],
        { env: { ...process.env, ...w.env(18, { XLNET_SOCKET: sock }) }, stdio: ['ignore', 'pipe', 'pipe'] });
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
      clearTimeout(killer);
      const ms = Date.now() - t;
      assert.is(code, 0, 'exited by itself, with the answer');
      assert.ok(ms < 5000, `the process lingered ${ms} ms after a 300 ms timeout`);
    } finally {
      for (const s of held) s.destroy();
      await new Promise((r) => server.close(r));
    }
  }));

test('a xenstored that never answers: the deadline lets the vif up (exit 2: xlnet cannot tell)', () =>
  withWorld(async (w) => {
    const sock = join(w.dir, 'mute-xenstored.sock');
    const held: net.Socket[] = [];
    const server = net.createServer((s) => { held.push(s); });
    await new Promise<void>((r) => server.listen(sock, r));
    try {
      const env = w.env(13, { XENSTORED_PATH: sock });
      const on = await w.run('online', env, { deadlineMs: 400, xenstoreTimeoutMs: 5000 });
      assert.is(on.code, 2);
      assert.match(on.summary, /gave up after 0\.4 s/);
      assert.ok(on.ms < 1500, `took ${on.ms} ms`);
      const off = await w.run('offline', env, { deadlineMs: 400, xenstoreTimeoutMs: 5000 });
      assert.is(off.code, 0);
    } finally {
      for (const s of held) s.destroy();
      await new Promise((r) => server.close(r));
    }
  }));

test('offline never fails: no xlnetd, no backend dir, no environment', () =>
  withWorld(async (w) => {
    await w.addVif({ domid: 14, script: 'vif-localack' }, 'g14');
    const r = await w.run('offline', w.env(14));
    assert.is(r.code, 0);
    assert.match(r.summary, /^vif14\.0: detach not done: cannot reach xlnetd/);
    // libxl removes the backend after offline; a late offline must not recreate it.
    await w.xs.rm('/local/domain/0/backend/vif/14');
    const gone = await w.run('offline', w.env(14));
    assert.is(gone.code, 0);
    assert.is(await w.xs.tryRead('/local/domain/0/backend/vif/14'), undefined, 'backend dir not recreated');
    const bare = await w.run('offline', {});
    assert.is(bare.code, 0);
    assert.match(bare.summary, /XENBUS_PATH is not set/);
  }));

test('online without the hotplug environment: exit 2 naming what is missing', () =>
  withWorld(async (w) => {
    const r = await w.run('online', { vif: 'vif1.0' });
    assert.is(r.code, 2);
    assert.match(r.summary, /XENBUS_PATH is not set: `xlnet hotplug` runs from a vif hotplug script/);
    const bad = await w.run('online', { XENBUS_PATH: 'backend/vbd/1/51712' });
    assert.match(bad.summary, /XENBUS_PATH=backend\/vbd\/1\/51712 is not a vif backend path/);
    const mismatch = await w.run('online', { XENBUS_PATH: 'backend/vif/1/0', vif: 'vif2.0' });
    assert.match(mismatch.summary, /vif=vif2\.0 does not belong to XENBUS_PATH=backend\/vif\/1\/0/);
    const vbd = await w.run('online', { XENBUS_TYPE: 'vbd', XENBUS_PATH: 'backend/vif/1/0' });
    assert.match(vbd.summary, /only handles vif devices/);
    const noBackend = await w.run('online', w.env(15));
    assert.is(noBackend.code, 2);
    assert.match(noBackend.summary, /cannot read the vif's backend from xenstore/);
  }));

test('a renamed vif (vifname) is attached under its new name; absolute XENBUS_PATH works too', () =>
  withWorld(async (w) => {
    await w.addVif({ domid: 16, vifname: 'web-eth0', localack: '1' }, 'g16');
    const r = await w.run('online', w.env(16, { XENBUS_PATH: '/local/domain/0/backend/vif/16/0' }));
    assert.is(r.code, 0);
    assert.match(r.summary, /^web-eth0: running without local acknowledgement/);
  }));

test('runHotplug returns just the exit code', () =>
  withWorld(async (w) => {
    await w.addVif({ domid: 17, localack: 'required' }, 'g17');
    const code = await runHotplug('online', w.env(17), { log: () => undefined, out: () => undefined });
    assert.is(code, 10);
  }));

test('main: anything but online or offline is a usage error (exit 2)', async () => {
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const errWrite = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((c: string) => { out.push(String(c)); return true; }) as typeof process.stdout.write;
  process.stderr.write = ((c: string) => { out.push(String(c)); return true; }) as typeof process.stderr.write;
  let codes: number[];
  try {
    codes = [await main([]), await main(['hotplug', 'up']), await main(['online', 'extra'])];
  } finally {
    process.stdout.write = write;
    process.stderr.write = errWrite;
  }
  assert.equal(codes, [2, 2, 2]);
  assert.ok(out.some((l) => /usage: xlnet hotplug online\|offline/.test(l)), out.join(''));
  assert.ok(out.some((l) => /expected online or offline, got up/.test(l)), out.join(''));
});

test.run();
