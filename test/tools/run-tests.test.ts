// tools/run-tests.mjs: a hung test file is stopped at its time limit, with
// everything it started, counts as a failure that says so, and the run goes on.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REPO = new URL('../..', import.meta.url).pathname;
const RUNNER = join(REPO, 'tools/run-tests.mjs');

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'run-tests-'));
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, 'test'), { recursive: true });
    writeFileSync(join(dir, 'test', name), text);
  }
  return dir;
}

const ok = `import { test } from 'uvu'; import * as assert from 'uvu/assert';
test('fine', () => assert.ok(true)); test.run();\n`;

test('a file past its limit is killed with its process group and counted as a timed-out failure', () => {
  const marker = `hang-${process.pid}-${Date.now()}`;
  const dir = tree({
    'a-hang.test.ts': `// test-timeout: 3
import { spawn } from 'node:child_process';
spawn('sh', ['-c', 'exec -a ${marker} sleep 300'], { stdio: 'ignore' });
setInterval(() => {}, 1000); // never reports\n`,
    'b-ok.test.ts': ok,
  });
  try {
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [RUNNER], { encoding: 'utf8', env: { ...process.env, XLNET_TEST_ROOT: dir }, timeout: 120_000 });
    const secs = (Date.now() - t0) / 1000;
    assert.is(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /FAILED: test\/a-hang\.test\.ts \(timed out after 3 s, killed\)/);
    assert.match(r.stdout, /--- test\/b-ok\.test\.ts: 1\/1 passed/, 'the run went on after the hung file');
    assert.match(r.stdout, /1 passed, 1 failed\n$/);
    assert.ok(secs < 60, `the runner took ${secs} s`);
    const left = spawnSync('pgrep', ['-f', marker], { encoding: 'utf8' });
    assert.is(left.stdout.trim(), '', 'a process the hung file started is still running');
  } finally {
    spawnSync('pkill', ['-f', marker]);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('XLNET_TEST_TIMEOUT sets the default limit and a bad value is refused by name', () => {
  const dir = tree({ 'slow.test.ts': `setInterval(() => {}, 1000);\n` });
  try {
    let r = spawnSync(process.execPath, [RUNNER], { encoding: 'utf8', env: { ...process.env, XLNET_TEST_ROOT: dir, XLNET_TEST_TIMEOUT: '2' }, timeout: 60_000 });
    assert.match(r.stdout, /timed out after 2 s/);
    r = spawnSync(process.execPath, [RUNNER], { encoding: 'utf8', env: { ...process.env, XLNET_TEST_ROOT: dir, XLNET_TEST_TIMEOUT: 'soon' }, timeout: 60_000 });
    assert.is(r.status, 2);
    assert.match(r.stderr, /XLNET_TEST_TIMEOUT must be a positive number of seconds, got 'soon'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
