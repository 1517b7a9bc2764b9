#!/usr/bin/env node
// How long the built `xlnet` takes to start and finish a few cheap verbs, and
// how many modules each loads. Not a test (timings are too noisy to assert);
// numbers for reports. Build first: npx tsc -p plugin/tsconfig.json
//
//   node plugin/test/cli/startup-bench.mjs [runs] [main.js ...]
// (default 10 runs per case, of plugin/dist/cli/main.js; several builds are
// run in turn, case by case, so a busy machine slows them alike)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const repo = new URL('../../../', import.meta.url).pathname;
const mains = process.argv.length > 3 ? process.argv.slice(3) : [join(repo, 'plugin/dist/cli/main.js')];
const register = new URL('./module-log/register.mjs', import.meta.url).pathname;
const runs = Number(process.argv[2] ?? 10);
const cases = [
  ['version'],
  ['hotplug'],
  ['help'],
  ['status', '--socket', '/nonexistent'],
  // What libxl runs; without XENBUS_PATH the hotplug module refuses after loading.
  ['hotplug', 'online'],
];
// No daemon socket and no config: every case takes the same path everywhere.
// (XLNET_SOCKET is removed, not emptied: an empty one is taken as the path.)
const env = { ...process.env, XLNET_CONF: '/nonexistent/xlnet.conf' };
delete env.XLNET_SOCKET;
delete env.XENBUS_PATH;

function modulesLoaded(main, args) {
  const dir = mkdtempSync(join(tmpdir(), 'xlnet-bench-'));
  try {
    const log = join(dir, 'modules');
    spawnSync(process.execPath, ['--import', register, main, ...args], { env: { ...env, XLNET_MODULE_LOG: log } });
    const all = new Set(readFileSync(log, 'utf8').split('\n').filter(Boolean));
    const files = [...all].filter((u) => !u.startsWith('node:'));
    return { files: files.length, builtins: all.size - files.length, deps: files.filter((u) => u.includes('/node_modules/')).length };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

console.log(`node ${process.versions.node}, ${runs} runs per case, wall time of the whole process`);
mains.forEach((m, i) => console.log(`build ${i}: ${m}`));
console.log('case                               build  exit  median ms  min ms  max ms  modules (of them node_modules)  builtins');
for (const args of cases) {
  const times = mains.map(() => []);
  const codes = [];
  for (let i = 0; i < runs; i++) {
    mains.forEach((main, b) => {
      const t0 = process.hrtime.bigint();
      const r = spawnSync(process.execPath, [main, ...args], { env, stdio: 'ignore' });
      times[b].push(Number(process.hrtime.bigint() - t0) / 1e6);
      codes[b] = r.status;
    });
  }
  mains.forEach((main, b) => {
    const m = modulesLoaded(main, args);
    const t = times[b];
    console.log(`${args.join(' ').padEnd(36)} ${String(b).padStart(3)} ${String(codes[b]).padStart(5)}  ${median(t).toFixed(0).padStart(9)}  ${Math.min(...t).toFixed(0).padStart(6)}  ${Math.max(...t).toFixed(0).padStart(6)}  ${String(m.files).padStart(7)} (${m.deps})${' '.repeat(21)}${String(m.builtins).padStart(4)}`);
  });
}
