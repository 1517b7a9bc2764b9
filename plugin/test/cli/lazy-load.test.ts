// What the built `xlnet` loads: a verb loads its own code only. libxl runs
// `xlnet hotplug` for every vif of every domain within a time budget, and
// under QEMU TCG each module costs; the setup wizard (inquirer, ora and
// cli/setup/) must not be loaded by hotplug, status, version or help.
// The built CLI runs with module-log/register.mjs, which lists every module
// the process loaded.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CONF_PATH as CLI_DEFAULT_CONF_PATH } from '../../src/cli/conf-path.js';
import { DEFAULT_CONF_PATH } from '../../src/config/index.js';
import { REPO, tempDir } from './helpers.js';

/** A private build, so the test neither needs nor races with `npm run build` into plugin/dist. */
const OUT = join(REPO, 'plugin/test/cli/build/dist');
const MAIN = join(OUT, 'cli/main.js');
const REGISTER = join(REPO, 'plugin/test/cli/module-log/register.mjs');

/** cli/setup/ modules that hold `xlnet help setup` (names, flags, paths); the rest is the wizard's implementation. */
const SETUP_METADATA = ['setup-verb.js', 'paths.js', 'methods.js'];

function build(): void {
  const tsc = join(REPO, 'node_modules/typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(REPO, 'plugin/tsconfig.json'), '--outDir', OUT,
    '--incremental', '--tsBuildInfoFile', join(OUT, '../tsbuildinfo')], { cwd: REPO, encoding: 'utf8' });
  // Type errors elsewhere in the tree (other work in progress) still emit
  // JavaScript; what this test needs is that the CLI was emitted.
  if (!existsSync(MAIN)) throw new Error(`tsc did not emit ${MAIN}:\n${r.stdout}${r.stderr}`);
}

interface Run { code: number; out: string; err: string; modules: string[] }

function runLogged(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const { dir, cleanup } = tempDir('xlnet-lazy-');
  try {
    const log = join(dir, 'modules');
    const base: NodeJS.ProcessEnv = { ...process.env, FORCE_COLOR: '0', XLNET_CONF: join(dir, 'no-xlnet.conf'), XLNET_MODULE_LOG: log };
    // Unset rather than empty: an empty XLNET_SOCKET is not "no socket given".
    delete base.XLNET_SOCKET;
    delete base.XENBUS_PATH;
    const r = spawnSync(process.execPath, ['--import', REGISTER, MAIN, ...args], { cwd: dir, encoding: 'utf8', env: { ...base, ...env }, timeout: 60_000 });
    const modules = existsSync(log) ? [...new Set(readFileSync(log, 'utf8').split('\n').filter(Boolean))] : [];
    return { code: r.status ?? -1, out: r.stdout, err: r.stderr, modules };
  } finally {
    cleanup();
  }
}

/** The wizard's modules among those loaded: inquirer, ora, and cli/setup/ beyond the verb's metadata. */
function wizardModules(modules: readonly string[]): string[] {
  return modules.filter((u) => /\/node_modules\/(@inquirer\/[^/]+|ora)\//.test(u) ||
    (u.includes('/cli/setup/') && !SETUP_METADATA.some((f) => u.endsWith(`/cli/setup/${f}`))));
}

test.before(build);

const CHEAP: [string, string[], number, string][] = [
  ['hotplug without an action', ['hotplug'], 2, 'xlnet hotplug: missing argument'],
  ['hotplug online outside libxl', ['hotplug', 'online'], 2, 'XENBUS_PATH is not set'],
  ['status without a daemon', ['status', '--socket', '/nonexistent/xlnetd.sock'], 3, 'cannot reach xlnetd'],
  ['version without a daemon', ['version', '--socket', '/nonexistent/xlnetd.sock'], 0, 'xlnetd: not reachable'],
  ['help', ['help'], 0, 'Usage: xlnet VERB'],
  ['help setup', ['help', 'setup'], 0, 'Usage: xlnet setup'],
];

for (const [name, args, code, text] of CHEAP) {
  test(`${name}: does its job without loading the setup wizard`, () => {
    const r = runLogged(args);
    assert.is(r.code, code, `exit ${r.code}: ${r.out}${r.err}`);
    assert.ok((r.out + r.err).includes(text), `expected "${text}" in: ${r.out}${r.err}`);
    assert.ok(r.modules.some((u) => u.endsWith('/cli/main.js')), 'the module log saw the CLI start');
    assert.equal(wizardModules(r.modules), [], `xlnet ${args.join(' ')} loaded the wizard's modules`);
  });
}

test('setup --help still shows the whole help of setup, without loading the wizard', () => {
  const r = runLogged(['setup', '--help']);
  assert.is(r.code, 0, r.err);
  assert.is(r.err, '');
  assert.ok(r.out.startsWith('Usage: xlnet setup [--yes] [--dry-run] [--root DIR]'), r.out);
  assert.ok(r.out.includes('recorded in /var/lib/xlnet/setup-manifest.json, which --uninstall reads'), r.out);
  assert.ok(r.out.includes('how the service is turned on for those domains (hook, script, xl)'), r.out);
  assert.is(r.out, runLogged(['help', 'setup']).out);
  assert.equal(wizardModules(r.modules), []);
});

test('setup itself loads its implementation (so the checks above can see it)', () => {
  const { dir, cleanup } = tempDir('xlnet-lazy-root-');
  try {
    const r = runLogged(['setup', '--uninstall', '--dry-run', '--root', dir]);
    assert.is(r.code, 0, r.out + r.err);
    assert.ok(r.out.startsWith('Nothing to uninstall'), r.out);
    assert.ok(wizardModules(r.modules).some((u) => u.includes('/cli/setup/')), `setup modules loaded: ${r.modules.join('\n')}`);
  } finally {
    cleanup();
  }
});

test('the CLI\'s copy of the default xlnet.conf path (kept to not load config/) is config\'s', () => {
  assert.is(CLI_DEFAULT_CONF_PATH, DEFAULT_CONF_PATH);
});

test.run();
