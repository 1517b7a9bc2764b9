// test-timeout: 1800 (image or Xen tools builds from an empty cache, QEMU under TCG)
// xlnet on real Xen 4.17 (QEMU/TCG): the project built, installed into a
// Dom0 overlay the way a host gets it (npm package + `xlnet setup`), then
// scenarios/localack.sh: guests with and without script=vif-localack, split
// and direct transfers checked byte for byte at a remote behind a long path,
// network-attach/-detach, destroy with acknowledged data in flight, required
// vs fail-open, and the patched xl's localack=1 when libxl-patch's tree is
// built. Every XLAB-RESULT of the scenario is one assertion here.
import { test } from 'uvu';
import { readLabRun, runChild, type Run } from './run-child.js';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const xenlab = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repo = resolve(xenlab, '..');
const RUN_TIMEOUT_S = 720;

// Checks the scenario always reports, then those that need the patched xl.
const EXPECTED = [
  'installed', 'xlnetd-up', 'xlnetd-datapath', 'a-create', 'b-create', 'a-hotplug-attached', 'b-not-asked',
  'attached-exactly-a', 'a-flow-visible', 'a-engine', 'a-upload-exact', 'a-download-exact', 'b-upload-direct', 'b-untouched',
  'a-flows-counted', 'a-network-attach', 'a-network-detach', 'a-destroy-held', 'a-destroyed-delivered',
  'a-destroy-detached', 'stop-with-client', 'stop-fail-open', 'required-create-fails', 'failopen-attach',
];
const EXPECTED_PATCHED = ['patched-localack-attached', 'patched-list-l', 'patched-required-attach-fails'];

const run = (cmd: string, args: string[], limitS: number, cwd = repo): Promise<Run> => runChild(cmd, args, limitS, { cwd });
const field = (out: string, key: string) => new RegExp(`^${key}=(.*)$`, 'm').exec(out)?.[1] ?? '';

const timings: Record<string, string> = {};
const logs = mkdtempSync(join(tmpdir(), 'xenlab-localack-'));
const results = new Map<string, { ok: boolean; detail: string }>();
let overlay = '', notes = '', patchedTree = '';
let lab: Run | undefined;

function file(name: string): string {
  const p = join(logs, name);
  return existsSync(p) ? readFileSync(p, 'utf8') : '';
}
const tail = (s: string, n: number) => s.split('\n').slice(-n).join('\n');

/** What explains a failed check: the scenario's console, xlnetd's log, the hotplug log. */
function excerpt(): string {
  const serial = file('serial.log');
  const kept: string[] = [];
  let inFile = false;
  for (const l of serial.slice(Math.max(0, serial.indexOf('XLAB-BOOTED'))).split('\n')) {
    if (l.startsWith('XLAB-FILE-BEGIN')) inFile = true;
    else if (l.startsWith('XLAB-FILE-END')) inFile = false;
    else if (!inFile && !l.startsWith('(XEN)')) kept.push(l);
  }
  return [
    '--- scenario console (last 40 lines) ---', tail(kept.join('\n'), 40),
    '--- xlnetd log (last 25 lines) ---', tail(file('xlnetd.log'), 25),
    '--- xen-hotplug.log (last 20 lines) ---', tail(file('xen-hotplug.log'), 20),
    '--- run.sh (last 15 lines) ---', tail(lab?.out ?? '', 15),
  ].join('\n');
}

test('the project builds (TypeScript, BPF objects)', async () => {
  const r = await run('make', ['-s', 'build-ts', 'build-datapath'], 600);
  timings['make build-ts build-datapath'] = `${r.secs.toFixed(1)} s`;
  assert.is(r.code, 0, `make failed:\n${tail(r.out, 30)}`);
});

test('xlnet installs into a Dom0 overlay from its npm package, and a rebuild is a cache hit', async () => {
  const p = spawnSync(join(repo, 'libxl-patch/build.sh'), ['--print'], { encoding: 'utf8' });
  patchedTree = p.status === 0 ? p.stdout.trim().split('\n').pop() ?? '' : '';
  const args = patchedTree ? ['--patched-xl-beside', patchedTree] : [];
  const first = await run(join(xenlab, 'build-overlay.sh'), args, 600);
  assert.is(first.code, 0, `build-overlay.sh failed:\n${tail(first.out, 30)}`);
  timings[`overlay build (${field(first.out, 'XLNET_OVERLAY_BUILD')})`] = `${first.secs.toFixed(1)} s`;
  overlay = field(first.out, 'XLNET_OVERLAY');
  notes = field(first.out, 'XLNET_OVERLAY_NOTES');
  for (const f of ['usr/bin/xlnet', 'usr/bin/xlnetd', 'usr/lib/node_modules/xlnet/plugin/dist/daemon/main.js',
    'etc/xen/xlnet.conf', 'etc/xen/scripts/vif-localack', 'etc/xen/scripts/vif-post.d/xlnet.hook']) {
    assert.ok(existsSync(join(overlay, f)), `${f} missing in the overlay ${overlay}`);
  }
  const second = await run(join(xenlab, 'build-overlay.sh'), args, 300);
  assert.is(second.code, 0, second.out);
  assert.is(field(second.out, 'XLNET_OVERLAY_BUILD'), 'cached', 'nothing changed, yet the overlay was rebuilt');
  assert.is(field(second.out, 'XLNET_OVERLAY'), overlay);
  timings['overlay build (cached)'] = `${second.secs.toFixed(1)} s`;
});

test('the installed package and `xlnet setup --root` need no workaround', () => {
  const text = notes && existsSync(notes) ? readFileSync(notes, 'utf8').trim() : '';
  assert.is(text, '', `build-overlay.sh had to work around install problems:\n${text}`);
});

test('the lab images are built (cached when unchanged)', async () => {
  const r = await run(join(xenlab, 'build-images.sh'), [], 1200);
  assert.is(r.code, 0, `build-images.sh failed:\n${tail(r.out, 30)}`);
  timings[`image build (${field(r.out, 'XENLAB_BUILD')})`] = `${r.secs.toFixed(1)} s`;
});

/** The scenario, told which relay engine to run (XLNET_TEST_ENGINE: xen-localack-kernel.test.ts). */
function scenarioFile(): string {
  const engine = process.env.XLNET_TEST_ENGINE;
  const base = join(xenlab, 'scenarios/localack.sh');
  if (!engine) return base;
  const f = join(logs, `localack-${engine}.sh`);
  writeFileSync(f, readFileSync(base, 'utf8').replace(/^(#![^\n]*\n)/, `$1export XLNET_TEST_ENGINE=${engine}\n`));
  return f;
}

test('Xen boots with xlnet installed in Dom0 and the localack scenario runs to the end', async () => {
  lab = await run(join(xenlab, 'run.sh'), [
    '--scenario', scenarioFile(), '--overlay', overlay,
    '--keep-logs', logs, '--timeout', String(RUN_TIMEOUT_S),
  ], RUN_TIMEOUT_S + 180);
  readLabRun(lab, results, timings, excerpt);
});

for (const name of [...EXPECTED, ...EXPECTED_PATCHED]) {
  test(`localack scenario: ${name}`, () => {
    const r = results.get(name);
    if (!r && EXPECTED_PATCHED.includes(name) && !patchedTree) {
      console.log(`  (${name}: skipped, libxl-patch/build.sh has no tree on this machine)`);
      return;
    }
    assert.ok(r, `the scenario reported no result '${name}'\n${excerpt()}`);
    assert.ok(r.ok, `${name}: ${r.detail}\n${excerpt()}`);
  });
}

test('no other check failed, and run.sh left no QEMU or work dir behind', () => {
  const known = [...EXPECTED, ...EXPECTED_PATCHED];
  const failed = [...results].filter(([n, r]) => !r.ok && !known.includes(n)).map(([n, r]) => `${n}: ${r.detail}`);
  assert.equal(failed, []);
  const m = /xenlab: QEMU pid (\d+), work dir (\S+)/.exec(lab?.out ?? '');
  assert.ok(m, 'run.sh did not say which QEMU it started');
  let alive = true;
  try { process.kill(Number(m[1]), 0); } catch { alive = false; }
  assert.not.ok(alive, `QEMU ${m[1]} still runs`);
  assert.not.ok(existsSync(m[2]), `${m[2]} was not removed`);
  console.log(`xenlab localack timings: ${JSON.stringify(timings, null, 1)}`);
});

test.after(() => { rmSync(logs, { recursive: true, force: true }); });
test.run();
