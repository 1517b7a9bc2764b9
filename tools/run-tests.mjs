#!/usr/bin/env node
// Runs every uvu test file (one process per file, so a crash or a leaked
// handle in one file cannot hide the others) and ends with the line
// `N passed, N failed` that CI reads.
//
//   node tools/run-tests.mjs [substring ...]   only files whose path contains one of them
//
// Test files: plugin/test/**/*.test.ts (unit), lab/**/test/*.test.ts and
// test/**/*.test.ts. Each is run as `node --import tsx <file>`.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const roots = ['plugin/test', 'lab', 'test', 'xenlab/test', 'libxl-patch/test'];

function walk(dir, out) {
  let entries;
  try { entries = readdirSync(dir); } catch { return out; }
  for (const e of entries) {
    if (e === 'node_modules' || e === 'build') continue;
    const p = join(dir, e);
    const st = statSync(p);
    if (st.isDirectory()) walk(p, out);
    else if (e.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = [...new Set(roots.flatMap((r) => walk(join(root, r), [])))]
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();

let passed = 0, failed = 0, skipped = 0;
const failures = [];
const t0 = Date.now();
for (const f of files) {
  const started = Date.now();
  process.stdout.write(`\n=== ${f}\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', f], {
    cwd: root, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' },
    maxBuffer: 64 * 1024 * 1024,
  });
  const out = (r.stdout ?? '') + (r.stderr ?? '');
  process.stdout.write(out);
  const total = /Total:\s+(\d+)/.exec(out);
  const pass = /Passed:\s+(\d+)/.exec(out);
  const skip = /Skipped:\s+(\d+)/.exec(out);
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  if (!total || !pass) {
    // The file crashed before uvu could report: count it as one failure.
    failed += 1;
    failures.push(`${f} (no uvu summary, exit ${r.status ?? r.signal})`);
    continue;
  }
  const t = Number(total[1]), p = Number(pass[1]), s = skip ? Number(skip[1]) : 0;
  passed += p; skipped += s;
  const fl = t - p - s;
  failed += fl;
  if (fl > 0 || r.status !== 0) {
    if (fl === 0) { failed += 1; }
    failures.push(`${f} (${fl} failed, exit ${r.status ?? r.signal})`);
  }
  process.stdout.write(`--- ${f}: ${p}/${t} passed in ${secs}s\n`);
}
const mins = ((Date.now() - t0) / 60000).toFixed(1);
process.stdout.write(`\n${files.length} test files in ${mins} min\n`);
for (const x of failures) process.stdout.write(`FAILED: ${x}\n`);
process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exit(failed === 0 && files.length > 0 ? 0 : 1);
