// test-timeout: 1800 (image or Xen tools builds from an empty cache, QEMU under TCG)
// Under real Xen 4.17 (xenlab: Xen + Debian Dom0 in QEMU/TCG, ~2 min): the
// tree from build.sh laid over the Dom0, then test/xen/localack.scenario.sh
// creates a guest with localack=required, network-attaches a vif with
// localack=satellite and checks the backend dirs, `xl list -l` (round trip,
// no double free), network-list, and that bad values fail.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ensureBuilt, PATCH_DIR } from './xl-dryrun.ts';

const RUN = join(PATCH_DIR, '..', 'xenlab', 'run.sh');
const SCENARIO = join(PATCH_DIR, 'test', 'xen', 'localack.scenario.sh');

test('real Xen: localack reaches the backend dir and survives xl list -l', () => {
  const { root } = ensureBuilt();
  const r = spawnSync('bash', [RUN, '--scenario', SCENARIO, '--overlay', root, '--timeout', '900'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const out = `${r.stdout}${r.stderr}`;
  const results = new Map<string, { ok: boolean; detail: string }>();
  for (const m of out.matchAll(/^XLAB-RESULT name=(\S+) ok=([01]) detail=(.*)$/gm)) {
    results.set(m[1], { ok: m[2] === '1', detail: m[3] });
  }
  const failed = [...results].filter(([, v]) => !v.ok).map(([k, v]) => `${k}: ${v.detail}`);
  assert.equal(failed, [], `failed checks:\n${failed.join('\n')}`);
  for (const name of [
    'patched-xl',
    'create-bad-value',
    'backend-localack',
    'libxl-localack',
    'list-l',
    'attach-backend-localack',
    'list-l-two-vifs',
    'attach-bad-value',
    'backends-gone',
  ]) {
    assert.ok(results.get(name)?.ok, `check ${name} ran and passed\n${out.slice(-3000)}`);
  }
  assert.is(r.status, 0, out.slice(-3000));
});

test.run();
