// test-timeout: 1800 (image or Xen tools builds from an empty cache, QEMU under TCG)
// Real Xen end to end: builds the lab's images, boots Xen 4.17 + a Debian
// Dom0 under QEMU (TCG) and runs scenarios/basic.sh; every XLAB-RESULT the
// scenario prints is one assertion here.
//
// Timings are printed (cold/cached image build, boot, scenario). The cold
// build (empty cache, apt downloads included) is made in a throw-away cache;
// XENLAB_SKIP_COLD=1 skips it (saves ~45 s of CPU when iterating).
import { test } from 'uvu';
import { children, readLabRun, runChild, type Run } from './run-child.js';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const xenlab = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// Every check scenarios/basic.sh reports; a missing one is a failure too.
const EXPECTED = [
  'dom0-tools', 'remote-netem', 'dom0-remote-rtt', 'dom0-remote-rate',
  'guest-create', 'vif-hotplug', 'vif-on-bridge', 'guest-ping-dom0',
  'guest-remote-rtt', 'guest-remote-rate', 'xl-list', 'network-attach',
  'vif2-connected', 'network-detach', 'vif2-removed', 'xl-destroy', 'backends-gone',
];
const RUN_TIMEOUT_S = 900;

const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv, limitS: number): Promise<Run> => runChild(cmd, args, limitS, { env });

const env = { ...process.env };
const timings: Record<string, string> = {};
let lab: Run | undefined;
const logs = mkdtempSync(join(tmpdir(), 'xenlab-test-'));
const results = new Map<string, { ok: boolean; detail: string }>();

function file(name: string): string {
  const p = join(logs, name);
  return existsSync(p) ? readFileSync(p, 'utf8') : '';
}

// The part of the serial log that explains a failure: the scenario's own
// console output (without the dumped files), the guest console and the
// hotplug log.
function excerpt(): string {
  const serial = file('serial.log');
  const scenario = serial.includes('XLAB-BOOTED') ? serial.slice(serial.indexOf('XLAB-BOOTED')) : serial;
  const lines = scenario.split('\n');
  const kept: string[] = [];
  let inFile = false;
  for (const l of lines) {
    if (l.startsWith('XLAB-FILE-BEGIN')) inFile = true;
    else if (l.startsWith('XLAB-FILE-END')) inFile = false;
    else if (!inFile) kept.push(l);
  }
  const tail = (s: string, n: number) => s.split('\n').slice(-n).join('\n');
  return [
    '--- serial log (scenario part, last 60 lines) ---', tail(kept.join('\n'), 60),
    '--- guest console ---', tail(file('guest-g1.log'), 30),
    '--- xen-hotplug.log ---', tail(file('xen-hotplug.log'), 20),
    `--- run.sh output ---`, tail(lab?.out ?? '', 30),
  ].join('\n');
}

test('lab images build from Debian packages and a second build is a cache hit', async () => {
  const build = join(xenlab, 'build-images.sh');
  if (process.env.XENLAB_SKIP_COLD !== '1') {
    const cold = mkdtempSync(join(tmpdir(), 'xenlab-cold-'));
    try {
      const r = await run(build, [], { ...env, XLNET_XENLAB_CACHE: cold }, 1200);
      assert.is(r.code, 0, `cold build failed:\n${r.out}`);
      assert.match(r.out, /XENLAB_BUILD=built/);
      timings['cold build (empty cache, apt downloads)'] = `${r.secs.toFixed(1)} s`;
    } finally {
      rmSync(cold, { recursive: true, force: true });
    }
  }
  const first = await run(build, [], env, 1200);
  assert.is(first.code, 0, `image build failed:\n${first.out}`);
  const kind = /XENLAB_BUILD=(\w+)/.exec(first.out)?.[1];
  timings[`first build (${kind === 'built' ? 'built' : 'cache hit'})`] = `${first.secs.toFixed(1)} s`;
  const images = /XENLAB_IMAGES=(.*)/.exec(first.out)?.[1] ?? '';
  for (const f of ['xen.elf', 'vmlinuz', 'dom0-rootfs.cpio.gz', 'domu-initrd.cpio.gz']) {
    assert.ok(existsSync(join(images, f)), `${f} missing in ${images}`);
  }
  const second = await run(build, [], env, 600);
  assert.is(second.code, 0, `second build failed:\n${second.out}`);
  assert.match(second.out, /XENLAB_BUILD=cached/, 'nothing changed, yet the images were rebuilt');
  assert.match(second.out, new RegExp(`XENLAB_IMAGES=${images}`));
  timings['cached build'] = `${second.secs.toFixed(1)} s`;
});

test('Xen 4.17 boots Dom0 under QEMU and the basic scenario runs to the end', async () => {
  lab = await run(join(xenlab, 'run.sh'), [
    '--scenario', join(xenlab, 'scenarios/basic.sh'), '--keep-logs', logs,
    '--timeout', String(RUN_TIMEOUT_S),
  ], env, RUN_TIMEOUT_S + 120);
  readLabRun(lab, results, timings, excerpt);
});

for (const name of EXPECTED) {
  test(`basic scenario: ${name}`, () => {
    const r = results.get(name);
    assert.ok(r, `the scenario reported no result '${name}'\n${excerpt()}`);
    assert.ok(r.ok, `${name}: ${r.detail}\n${excerpt()}`);
  });
}

test('the scenario reports no check beyond the known ones that failed', () => {
  const failed = [...results].filter(([n, r]) => !r.ok && !EXPECTED.includes(n)).map(([n, r]) => `${n}: ${r.detail}`);
  assert.equal(failed, []);
  assert.is(lab?.code, 0, `run.sh exited ${lab?.code}`);
});

function processGone(pid: number): boolean {
  try { process.kill(pid, 0); return false; } catch { return true; }
}
function labProcess(out: string): { qemu: number; dir: string } | undefined {
  const m = /xenlab: QEMU pid (\d+), work dir (\S+)/.exec(out);
  return m ? { qemu: Number(m[1]), dir: m[2] } : undefined;
}

test('after the run no QEMU and no work dir of it are left', () => {
  const p = labProcess(lab?.out ?? '');
  assert.ok(p, 'run.sh did not say which QEMU it started');
  assert.ok(processGone(p.qemu), `QEMU ${p.qemu} still runs`);
  assert.not.ok(existsSync(p.dir), `${p.dir} was not removed`);
});

test('run.sh stopped with SIGTERM mid-boot kills its QEMU and removes its files', async () => {
  const child = spawn(join(xenlab, 'run.sh'), ['--scenario', join(xenlab, 'scenarios/basic.sh')],
    { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child.pid!);
  let out = '';
  child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
  child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  // Wait until QEMU runs (the image build is cached by now), let it boot a bit.
  const t0 = Date.now();
  while (!labProcess(out) && Date.now() - t0 < 600_000) await new Promise((r) => setTimeout(r, 200));
  const p = labProcess(out);
  assert.ok(p, `run.sh never started QEMU:\n${out}`);
  await new Promise((r) => setTimeout(r, 5000));
  assert.not.ok(processGone(p.qemu), 'QEMU ended by itself within 5 s: nothing to interrupt');
  process.kill(child.pid!, 'SIGTERM');
  const code = await closed;
  children.delete(child.pid!);
  assert.is(code, 143, `run.sh exit code after SIGTERM:\n${out}`);
  assert.ok(processGone(p.qemu), `QEMU ${p.qemu} survived run.sh's SIGTERM`);
  assert.not.ok(existsSync(p.dir), `${p.dir} was not removed`);
  console.log(`xenlab timings: ${JSON.stringify(timings, null, 1)}`);
});

test.after(() => { rmSync(logs, { recursive: true, force: true }); });
test.run();
