#!/usr/bin/env node
// Runs every uvu test file (one process per file, so a crash or a leaked
// handle in one file cannot hide the others) and ends with the line
// `N passed, N failed` that CI reads.
//
//   node tools/run-tests.mjs [substring ...]   only files whose path contains one of them
//
// Test files: plugin/test/**/*.test.ts (unit), lab/**/test/*.test.ts and
// test/**/*.test.ts. Each is run as `node --import tsx <file>` in a process
// group of its own, with a time limit: XLNET_TEST_TIMEOUT seconds (default
// 900), or the file's own `// test-timeout: SECONDS` line within its first
// 40 lines. A file past its limit gets SIGTERM (its cleanup runs), then
// SIGKILL for the whole group 15 s later, and counts as one failure that says
// it timed out: one hung file must not stop the run (CI has 90 minutes).
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

// XLNET_TEST_ROOT: another tree to run (the runner's own tests use it).
const root = process.env.XLNET_TEST_ROOT || new URL('..', import.meta.url).pathname;
const roots = ['plugin/test', 'lab', 'test', 'xenlab/test', 'libxl-patch/test'];
const DEFAULT_LIMIT = Number(process.env.XLNET_TEST_TIMEOUT || 900);
const GRACE_MS = 15_000;

if (!(DEFAULT_LIMIT > 0)) {
  process.stderr.write(`run-tests: XLNET_TEST_TIMEOUT must be a positive number of seconds, got '${process.env.XLNET_TEST_TIMEOUT}'\n`);
  process.exit(2);
}

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

/** The file's own limit (`// test-timeout: N` near its top), else the default. */
export function limitOf(text, fallback = DEFAULT_LIMIT) {
  const head = text.split('\n').slice(0, 40).join('\n');
  const m = /^\/\/\s*test-timeout:\s*(\d+)\b/m.exec(head);
  return m ? Number(m[1]) : fallback;
}

/** Runs one file; resolves with its output, exit status and whether it timed out. */
function runFile(f, limitSec) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', f], {
      cwd: root, env: { ...process.env, FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'], detached: true, // its own process group
    });
    let out = '';
    const take = (d) => { const s = d.toString(); out += s; process.stdout.write(s); };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    let timedOut = false, killTimer;
    const group = (sig) => { try { process.kill(-child.pid, sig); } catch { /* already gone */ } };
    const timer = setTimeout(() => {
      timedOut = true;
      process.stdout.write(`\n!!! ${f}: still running after ${limitSec} s: SIGTERM to its process group\n`);
      group('SIGTERM');
      killTimer = setTimeout(() => group('SIGKILL'), GRACE_MS);
    }, limitSec * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // Whatever the file left running in its group goes with it.
      if (timedOut) { clearTimeout(killTimer); group('SIGKILL'); }
      resolve({ out, code, signal, timedOut });
    });
  });
}

async function main() {
  const filters = process.argv.slice(2);
  const files = [...new Set(roots.flatMap((r) => walk(join(root, r), [])))]
    .map((f) => relative(root, f))
    .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
    .sort();

  let passed = 0, failed = 0, skipped = 0;
  const failures = [];
  const t0 = Date.now();
  // A test that signals its own process group must not take the runner with it.
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));
  for (const f of files) {
    const started = Date.now();
    process.stdout.write(`\n=== ${f}\n`);
    const limit = limitOf(readFileSync(join(root, f), 'utf8'));
    const r = await runFile(f, limit);
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    const status = r.code ?? r.signal;
    if (r.timedOut) {
      failed += 1;
      failures.push(`${f} (timed out after ${limit} s, killed)`);
      process.stdout.write(`--- ${f}: TIMED OUT after ${limit} s\n`);
      continue;
    }
    const total = /Total:\s+(\d+)/.exec(r.out);
    const pass = /Passed:\s+(\d+)/.exec(r.out);
    const skip = /Skipped:\s+(\d+)/.exec(r.out);
    if (!total || !pass) {
      // The file crashed before uvu could report: count it as one failure.
      failed += 1;
      failures.push(`${f} (no uvu summary, exit ${status})`);
      continue;
    }
    const t = Number(total[1]), p = Number(pass[1]), s = skip ? Number(skip[1]) : 0;
    passed += p; skipped += s;
    const fl = t - p - s;
    failed += fl;
    if (fl > 0 || r.code !== 0) {
      if (fl === 0) failed += 1;
      failures.push(`${f} (${fl} failed, exit ${status})`);
    }
    process.stdout.write(`--- ${f}: ${p}/${t} passed in ${secs}s\n`);
  }
  const mins = ((Date.now() - t0) / 60000).toFixed(1);
  process.stdout.write(`\n${files.length} test files in ${mins} min\n`);
  for (const x of failures) process.stdout.write(`FAILED: ${x}\n`);
  process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  process.exit(failed === 0 && files.length > 0 ? 0 : 1);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
