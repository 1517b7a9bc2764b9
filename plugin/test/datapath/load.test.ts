// Loading and unloading the datapath, its own cgroup, and the errors a user
// gets for a missing build, a bad cgroup or bad values.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as libc from '../../src/ffi/libc.js';
import {
  DatapathError, cgroup2Root, cgroupOf, enterCgroup, enterOwnCgroup, loadDatapath, removeCgroup,
} from '../../src/datapath/index.js';
import { TestCgroup, buildObjects, loadedMaps, loadedPrograms, sh } from './lab.js';

const PROGRAMS = ['xlnet_wan_tune', 'xlnet_flow_event', 'xlnet_count_egr', 'xlnet_count_ing', 'xlnet_relay_ver', 'xlnet_relay_spl'];
const MAPS = ['xlnet_sk', 'xlnet_profiles', 'xlnet_flows', 'xlnet_vif_close', 'xlnet_relay_tar', 'xlnet_relay_sou', 'xlnet_relay_ctl', 'xlnet_relay_sta'];

function isDatapathError(code: string, re: RegExp) {
  return (e: unknown) => e instanceof DatapathError && e.code === code && re.test(e.message);
}

test.before(() => buildObjects());

test('the objects load and attach to the cgroup; close() leaves nothing in the kernel', async () => {
  assert.equal(loadedPrograms(), [], 'precondition: this process loaded no xlnet program');
  const cg = new TestCgroup();
  try {
    const dp = await loadDatapath({ cgroup: cg.path });
    try {
      const progs = loadedPrograms();
      for (const p of PROGRAMS) assert.ok(progs.some((n) => p.startsWith(n) || n.startsWith(p)), `${p} loaded: ${progs}`);
      assert.is(progs.length, PROGRAMS.length);
      const maps = loadedMaps();
      for (const m of MAPS) assert.ok(maps.some((n) => m.startsWith(n) || n.startsWith(m)), `${m} created: ${maps}`);
      assert.is(maps.filter((n) => n === 'xlnet_sk').length, 1, 'shared maps exist once');
      assert.is(maps.filter((n) => n === 'xlnet_flows').length, 1, 'shared maps exist once');
      assert.ok(dp.relayAvailable, `kernel relay engine loaded: ${dp.relayError}`);
      const attached = sh('bpftool', ['cgroup', 'show', cg.path]);
      for (const t of ['sock_ops', 'cgroup_inet_egress', 'cgroup_inet_ingress']) assert.match(attached, t);
    } finally {
      dp.close();
      dp.close(); // idempotent
    }
    // The kernel frees programs and then their maps from deferred work: give it a moment.
    for (let i = 0; i < 100 && (loadedPrograms().length || loadedMaps().length); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(loadedPrograms(), []);
    assert.equal(loadedMaps(), []);
    assert.is(sh('bpftool', ['cgroup', 'show', cg.path]).trim(), '');
  } finally { await cg.remove(); }
});

test('a missing object file is an error naming the path and the build command', async () => {
  const cg = new TestCgroup();
  const dir = mkdtempSync(join(tmpdir(), 'xdp-empty-'));
  try {
    await loadDatapath({ cgroup: cg.path, objectDir: dir }).then(
      () => assert.unreachable('loaded without objects'),
      (e) => assert.ok(isDatapathError('E_NO_OBJECT', new RegExp(`${dir}/wan_tune\\.bpf\\.o.*make -C datapath`))(e), String(e)));
  } finally { await cg.remove(); }
});

test('a nonexistent cgroup, the root cgroup and a shared cgroup are refused', async () => {
  const missing = join(cgroup2Root(), 'xdp-no-such-cgroup');
  await loadDatapath({ cgroup: missing }).then(() => assert.unreachable(),
    (e) => assert.ok(isDatapathError('E_CGROUP', new RegExp(`${missing} does not exist`))(e), String(e)));
  await loadDatapath({ cgroup: '/tmp' }).then(() => assert.unreachable(),
    (e) => assert.ok(isDatapathError('E_CGROUP', /not a cgroup v2 directory/)(e), String(e)));
  await loadDatapath({ cgroup: cgroup2Root() }).then(() => assert.unreachable(),
    (e) => assert.ok(isDatapathError('E_CGROUP', /root cgroup/)(e), String(e)));
  const cg = new TestCgroup();
  const other = spawn('sleep', ['30']);
  try {
    cg.add(other.pid!);
    await loadDatapath({ cgroup: cg.path }).then(() => assert.unreachable(),
      (e) => assert.ok(isDatapathError('E_CGROUP_SHARED', new RegExp(`holds other processes \\(${other.pid}\\)`))(e), String(e)));
    assert.equal(loadedPrograms(), [], 'nothing left loaded after a refusal');
  } finally {
    const gone = new Promise((r) => other.once('exit', r));
    other.kill('SIGKILL');
    await gone;
    await cg.remove();
  }
});

test('enterOwnCgroup moves this process into a cgroup of its own', async () => {
  const before = cgroupOf();
  const name = `xdp-own-${process.pid}/xlnetd`;
  const path = join(cgroup2Root(), name);
  try {
    assert.is(enterOwnCgroup(name), path);
    assert.is(cgroupOf(), path);
    assert.match(readFileSync('/proc/self/cgroup', 'utf8'), `0::/${name}`);
    const dp = await loadDatapath({ cgroup: path });
    dp.close();
  } finally {
    enterCgroup(before);
    removeCgroup(join(cgroup2Root(), `xdp-own-${process.pid}`));
  }
  assert.is(cgroupOf(), before);
  assert.not.ok(existsSync(path));
});

test('bad tuning and registration values are refused with the reason', async () => {
  const cg = new TestCgroup();
  const dp = await loadDatapath({ cgroup: cg.path });
  try {
    assert.throws(() => dp.setTuning(0, { cc: 'nosuchcc' }), isDatapathError('E_BAD_TUNING', /"nosuchcc" is not available.*reno/));
    assert.throws(() => dp.setTuning(0, { initcwnd: -1 }), isDatapathError('E_BAD_TUNING', /initcwnd = -1/));
    assert.throws(() => dp.setTuning(0, { sndbuf: 1.5 }), isDatapathError('E_BAD_TUNING', /sndbuf/));
    assert.throws(() => dp.setTuning(256, { initcwnd: 10 }), isDatapathError('E_BAD_TUNING', /out of range 0\.\.255/));
    dp.setTuning(255, { initcwnd: 32, cc: 'cubic', sndbuf: 1 << 20, rcvbuf: 1 << 20, cwndClamp: 500 });
    assert.equal(dp.getTuning(255), { initcwnd: 32, cwndClamp: 500, sndbuf: 1 << 20, rcvbuf: 1 << 20, cc: 'cubic' });

    const file = openSync(thisFile(), 'r');
    try {
      assert.throws(() => dp.registerSocket(file, { attachment: 1, profile: 0 }), isDatapathError('E_REGISTER', new RegExp(`fd ${file}`)));
    } finally { closeSync(file); }
    assert.throws(() => dp.registerSocket(99999, { attachment: 1, profile: 0 }), isDatapathError('E_REGISTER', /EBADF.*not an open socket/));
    assert.throws(() => dp.registerSocket(0, { attachment: 1, profile: 300 }), isDatapathError('E_REGISTER', /profile index 300/));
    const sock = libc.tcpSocket(4);
    try {
      dp.registerSocket(sock, { attachment: 42, profile: 3 });
      assert.equal(dp.socketState(sock), { attachment: 42, profile: 3, cookie: undefined, tuneFailed: [] });
      assert.ok(dp.unregisterSocket(sock));
      assert.is(dp.socketState(sock), undefined);
    } finally { libc.close(sock); }
  } finally {
    dp.close();
    await cg.remove();
  }
  assert.throws(() => dp.setTuning(0, {}), isDatapathError('E_CLOSED', /closed/));
});

function thisFile(): string { return new URL(import.meta.url).pathname; }

test.run();
