// test-timeout: 1200
// What a fresh machine does first: a clean clone of the committed tree, npm's
// cache empty (npm ci fetches every package from the registry), then the
// build (TypeScript, BPF objects, lab tools) from nothing. Generated and
// built files that a warm tree already has (plugin/dist, datapath/build,
// lab/*/build, node_modules) cannot hide a first-run failure here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const REPO = new URL('../..', import.meta.url).pathname;

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}
const tail = (s: string, n = 40) => s.split('\n').slice(-n).join('\n');

test('a clean clone installs its npm dependencies from an empty npm cache and builds', () => {
  const dir = mkdtempSync('/var/tmp/xlnet-fresh-');
  try {
    const clone = join(dir, 'xlnet');
    let r = sh('git', ['clone', '-q', '--no-hardlinks', REPO, clone], dir);
    assert.is(r.status, 0, r.out);
    for (const built of ['node_modules', 'plugin/dist', 'datapath/build']) {
      assert.not.ok(existsSync(join(clone, built)), `${built} is in the clone: it must be built, not committed`);
    }
    const env = { ...process.env, npm_config_cache: join(dir, 'npm-cache'), XLNET_CACHE: join(dir, 'cache') };
    r = sh('bash', ['tools/install-deps.sh'], clone, env);
    assert.is(r.status, 0, `install-deps.sh failed on a clean clone:\n${tail(r.out)}`);
    r = sh('make', ['-s', 'build'], clone, env);
    assert.is(r.status, 0, `make build failed on a clean clone:\n${tail(r.out)}`);
    assert.ok(existsSync(join(clone, 'plugin/dist/daemon/main.js')));
    assert.ok(readdirSync(join(clone, 'datapath/build')).some((f) => f.endsWith('.bpf.o')));
    r = sh(process.execPath, [join(clone, 'plugin/dist/cli/main.js'), '--version'], clone, env);
    assert.is(r.status, 0, r.out);
    // A second build changes nothing and succeeds (make is idempotent).
    r = sh('make', ['-s', 'build'], clone, env);
    assert.is(r.status, 0, r.out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
