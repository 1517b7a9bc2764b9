// test-timeout: 1800 (image or Xen tools builds from an empty cache, QEMU under TCG)
// The patch series as a Xen maintainer receives it: it applies cleanly, in
// order, to a freshly extracted Debian xen 4.17 source, and each patch is a
// proper git format-patch mail (subsystem prefix, reasons, Signed-off-by).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt, PATCH_DIR } from './xl-dryrun.ts';

const PATCHES = join(PATCH_DIR, 'patches');
// build.sh downloads it here (apt-get source --download-only).
const DSC = join(process.env.XLNET_CACHE || '/var/cache/xlnet', 'libxl-src/xen_4.17.5+72-g01140da4e8-1.dsc');

function seriesNames(): string[] {
  return readFileSync(join(PATCHES, 'series'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

test.before(() => {
  ensureBuilt(); // also fetches the source package
});

test('series lists every patch file, in NNNN order', () => {
  const files = readdirSync(PATCHES).filter((f) => f.endsWith('.patch')).sort();
  assert.equal(seriesNames(), files);
  files.forEach((f, i) => assert.ok(f.startsWith(String(i + 1).padStart(4, '0') + '-'), f));
});

test('the series applies cleanly (no fuzz, no rejects) to a fresh source', () => {
  assert.ok(existsSync(DSC), `${DSC} (build.sh fetches it)`);
  const tmp = mkdtempSync(join(tmpdir(), 'localack-series-'));
  try {
    const src = join(tmp, 'xen');
    const x = spawnSync('dpkg-source', ['-q', '-x', DSC, src], { encoding: 'utf8' });
    assert.is(x.status, 0, x.stderr);
    for (const name of seriesNames()) {
      const args = ['-d', src, '-p1', '--fuzz=0', '--batch', '--forward', '-i', join(PATCHES, name)];
      // Check first, then apply in the temp copy so the next patch sees the
      // tree it was made against.
      const dry = spawnSync('patch', ['--dry-run', ...args], { encoding: 'utf8' });
      assert.is(dry.status, 0, `${name}:\n${dry.stdout}${dry.stderr}`);
      assert.not.match(dry.stdout, /fuzz|FAILED|Reversed|ignored/i, `${name}:\n${dry.stdout}`);
      const real = spawnSync('patch', ['--no-backup-if-mismatch', ...args], { encoding: 'utf8' });
      assert.is(real.status, 0, `${name}:\n${real.stdout}${real.stderr}`);
    }
    // The tree now says what the series promises.
    const idl = readFileSync(join(src, 'tools/libs/light/libxl_types.idl'), 'utf8');
    assert.match(idl, /\("localack", string\)/);
    const header = readFileSync(join(src, 'tools/include/libxl.h'), 'utf8');
    assert.match(header, /#define LIBXL_HAVE_DEVICE_NIC_LOCALACK 1/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('each patch is a format-patch mail with subsystem prefix, body and Signed-off-by', () => {
  for (const name of seriesNames()) {
    const text = readFileSync(join(PATCHES, name), 'utf8');
    const subject = /^Subject: \[PATCH (\d+)\/(\d+)\] (.+)$/m.exec(text);
    assert.ok(subject, `${name}: Subject line`);
    assert.match(subject![3], /^(tools\/libs\/light|tools\/xl|docs(\/man)?): /, `${name}: subsystem prefix`);
    assert.match(text, /^From: xlnet developers <dev@xlnet\.invalid>$/m);
    assert.match(text, /^Signed-off-by: xlnet developers <dev@xlnet\.invalid>$/m);
    const body = text.split(/\n\n/).slice(1).join('\n\n').split(/^Signed-off-by:/m)[0];
    assert.ok(body.trim().split('\n').length >= 4, `${name}: a body that explains why`);
  }
});

test.run();
