// tools/prune-builds.sh, which every keyed build cache calls after a build:
// a first run (empty cache, nothing older to prune) must succeed, as must any
// later one; it keeps the current build and the KEEP newest others.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SCRIPT = new URL('../../tools/prune-builds.sh', import.meta.url).pathname;
const key = (n: number) => n.toString(16).padStart(16, '0');

function prune(dir: string, current: string, keep?: number) {
  const args = [dir, current, ...(keep === undefined ? [] : [String(keep)])];
  // The callers run under `set -euo pipefail`: so does this.
  return spawnSync('bash', ['-euo', 'pipefail', SCRIPT, ...args], { encoding: 'utf8' });
}

function withDir(fn: (dir: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'prune-'));
  try { fn(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
}

test('a first build (only the current key in the cache) prunes nothing and succeeds', () => withDir((dir) => {
  mkdirSync(join(dir, key(1)));
  const r = prune(dir, key(1));
  assert.is(r.status, 0, r.stderr);
  assert.equal(readdirSync(dir), [key(1)]);
}));

test('an empty or missing cache directory succeeds', () => withDir((dir) => {
  assert.is(prune(dir, key(1)).status, 0);
  assert.is(prune(join(dir, 'absent'), key(1)).status, 0);
}));

test('keeps the current build and the two newest others, removes older ones, leaves other names alone', () => withDir((dir) => {
  for (let i = 1; i <= 5; i++) {
    mkdirSync(join(dir, key(i)));
    utimesSync(join(dir, key(i)), i * 1000, i * 1000); // key(5) newest
  }
  mkdirSync(join(dir, 'debs'));
  mkdirSync(join(dir, 'xlnet-overlay'));
  const r = prune(dir, key(1)); // the current one is the oldest
  assert.is(r.status, 0, r.stderr);
  assert.equal(readdirSync(dir).sort(), [key(1), key(4), key(5), 'debs', 'xlnet-overlay'].sort());
  assert.is(prune(dir, key(1), 0).status, 0);
  assert.equal(readdirSync(dir).sort(), [key(1), 'debs', 'xlnet-overlay'].sort());
}));

test('a bad KEEP is a usage error naming it', () => withDir((dir) => {
  const r = prune(dir, key(1), 'x' as unknown as number);
  assert.is(r.status, 2);
  assert.match(r.stderr, /KEEP must be a number/);
}));

test.run();
