// test-timeout: 1800 (a whole cold build of the patched tools, ~2-4 min on 2 cores)
// build.sh as a machine that never built it runs it: an empty cache
// (XLNET_CACHE pointed at a new directory). Its first run used to build the
// tree and then exit 1 in the prune step (nothing older to prune, under
// pipefail), which only a fresh machine showed: the other tests here use the
// machine's warm cache. The source download is copied from that cache (the
// download is apt's, not ours; everything after it runs cold).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PATCH_DIR } from './xl-dryrun.ts';

const BUILD = join(PATCH_DIR, 'build.sh');
const CACHE = process.env.XLNET_CACHE || '/var/cache/xlnet';

function build(cache: string) {
  return spawnSync('bash', [BUILD], {
    encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, env: { ...process.env, XLNET_CACHE: cache },
  });
}

function printed(cache: string): string | undefined {
  const r = spawnSync('bash', [BUILD, '--print'], { encoding: 'utf8', env: { ...process.env, XLNET_CACHE: cache } });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

// On a machine whose cache is empty (a fresh machine, `make test-cold`) the
// first build is made in the real cache, where the other tests then find it:
// one cold build, not two. On a warm machine it is made in a throw-away cache.
test('a first build into an empty cache succeeds, and the second is a cache hit', () => {
  const warm = printed(CACHE) !== undefined;
  const cold = warm ? mkdtempSync('/var/tmp/xlnet-libxl-cold-') : CACHE;
  try {
    if (warm) cpSync(join(CACHE, 'libxl-src'), join(cold, 'libxl-src'), { recursive: true });
    const first = build(cold);
    assert.is(first.status, 0, `cold build.sh exited ${first.status}:\n${first.stdout.slice(-3000)}\n${first.stderr.slice(-3000)}`);
    assert.match(first.stdout, /built in [0-9.]+ s; libxl tree/, 'the first run built the tree');
    const root = first.stdout.trim().split('\n').pop()!;
    assert.ok(root.startsWith(join(cold, 'libxl')), `the tree is in the cache: ${root}`);
    assert.ok(existsSync(join(root, 'usr/lib/xen-4.17/bin/xl')), 'the patched xl was installed into the tree');
    const second = build(cold);
    assert.is(second.status, 0, second.stderr);
    assert.match(second.stdout, /libxl tree \(cached, key [0-9a-f]{16}\)/);
    assert.is(second.stdout.trim().split('\n').pop(), root);
    assert.is(printed(cold), root);
  } finally {
    if (warm) rmSync(cold, { recursive: true, force: true });
  }
});

test.run();
