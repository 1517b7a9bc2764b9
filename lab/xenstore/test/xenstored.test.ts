// The lab xenstored is the real Xen 4.17 daemon: Xen's own tools and test
// program must work against it, and instances must not see each other.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startLabXenstored, type LabXenstored } from '../xenstored.ts';

const run = promisify(execFile);
const TEST_XENSTORE = '/usr/lib/xen-4.17/bin/test-xenstore';

/** True if pid runs (a zombie waiting for its reaper does not count). */
function runningProcess(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** The promise must reject; returns the error (uvu has no async throws). */
async function rejection(p: Promise<unknown>, like?: RegExp): Promise<Error> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
  );
  assert.ok(err, 'expected a rejection');
  if (like) assert.match(err.message, like);
  return err;
}

function freshDir(): string {
  return mkdtempSync(join(tmpdir(), 'labxs-'));
}

async function xs(lab: LabXenstored, tool: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(tool, args, { env: { ...process.env, ...lab.env } });
  return stdout;
}

async function withLab(fn: (lab: LabXenstored) => Promise<void>): Promise<void> {
  const lab = await startLabXenstored(freshDir());
  try {
    await fn(lab);
  } finally {
    await lab.stop();
  }
}

test('xenstore-write, -read, -ls, -list and -rm work against the lab daemon', () =>
  withLab(async (lab) => {
    await xs(lab, 'xenstore-write', '/local/domain/7/name', 'guest7', '/vm/a', 'x y');
    assert.is((await xs(lab, 'xenstore-read', '/local/domain/7/name')).trim(), 'guest7');
    assert.is((await xs(lab, 'xenstore-read', '/vm/a')).trim(), 'x y');
    const ls = await xs(lab, 'xenstore-ls', '/local/domain');
    assert.match(ls, /7 = ""/);
    assert.match(ls, /name = "guest7"/);
    assert.equal((await xs(lab, 'xenstore-list', '/vm')).trim().split('\n'), ['a']);
    await xs(lab, 'xenstore-rm', '/local/domain/7');
    await rejection(xs(lab, 'xenstore-read', '/local/domain/7/name'));
    assert.is((await xs(lab, 'xenstore-exists', '/vm/a')), '');
  }));

test('xenstore-watch reports a write made by another client', () =>
  withLab(async (lab) => {
    const watcher = spawn('xenstore-watch', ['-n', '2', '/watched'], {
      env: { ...process.env, ...lab.env },
    });
    let out = '';
    watcher.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((done) => watcher.on('exit', done));
    try {
      // The first event is the one xenstored sends when a watch is set.
      for (let i = 0; i < 200 && !out.includes('/watched'); i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      await xs(lab, 'xenstore-write', '/watched/child', 'v');
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([
        exited,
        new Promise((r) => (timer = setTimeout(() => r('timeout'), 5000))),
      ]);
      clearTimeout(timer);
      assert.is(code, 0, `xenstore-watch did not see 2 events, got: ${out}`);
      assert.equal(out.trim().split('\n'), ['/watched', '/watched/child']);
    } finally {
      watcher.kill();
    }
  }));

test("Xen's own test-xenstore passes against the lab daemon", () =>
  withLab(async (lab) => {
    const { stdout } = await run(TEST_XENSTORE, [], { env: { ...process.env, ...lab.env } });
    // One timing line per test, 12 tests in 4.17; a failing test exits non-zero.
    assert.is(stdout.trim().split('\n').length, 12, stdout);
    assert.match(stdout, /ta err/);
  }));

test('two instances run at once and do not share any state', async () => {
  const a = await startLabXenstored(freshDir());
  const b = await startLabXenstored(freshDir());
  try {
    assert.is.not(a.pid, b.pid);
    assert.is.not(a.socketPath, b.socketPath);
    await xs(a, 'xenstore-write', '/only/in', 'a');
    await xs(b, 'xenstore-write', '/only/in', 'b');
    assert.is((await xs(a, 'xenstore-read', '/only/in')).trim(), 'a');
    assert.is((await xs(b, 'xenstore-read', '/only/in')).trim(), 'b');
    await xs(a, 'xenstore-rm', '/only');
    await rejection(xs(a, 'xenstore-read', '/only/in'));
    assert.is((await xs(b, 'xenstore-read', '/only/in')).trim(), 'b');
  } finally {
    await a.stop();
    await b.stop();
  }
});

test('stop() leaves no process and no files', async () => {
  const lab = await startLabXenstored(freshDir(), { trace: true, onDiskStore: true });
  await xs(lab, 'xenstore-write', '/x', '1');
  assert.ok(existsSync(join(lab.dir, 'tdb')), 'on-disk store lives in the instance dir');
  assert.ok(existsSync(join(lab.dir, 'trace.log')), 'trace lives in the instance dir');
  assert.ok(existsSync(join(lab.dir, 'xenstored.pid')));
  await lab.stop();
  assert.not.ok(existsSync(lab.dir), 'directory removed');
  assert.not.ok(runningProcess(lab.pid), 'process gone');
  await lab.stop(); // idempotent
});

test('nothing is written to the system xenstored directories', async () => {
  const before = existsSync('/var/run/xenstored') ? readdirSync('/var/run/xenstored') : null;
  await withLab(async (lab) => {
    await xs(lab, 'xenstore-write', '/y', '1');
  });
  const after = existsSync('/var/run/xenstored') ? readdirSync('/var/run/xenstored') : null;
  assert.equal(after, before);
  assert.not.ok(existsSync('/var/lib/xenstored/tdb'));
});

test('a second daemon in a directory already in use fails with a clear error', async () => {
  const lab = await startLabXenstored(freshDir());
  try {
    await rejection(startLabXenstored(lab.dir), new RegExp(`in use by xenstored pid ${lab.pid}`));
    // The refused start must not have disturbed the running instance.
    await xs(lab, 'xenstore-write', '/still', 'here');
    assert.is((await xs(lab, 'xenstore-read', '/still')).trim(), 'here');
  } finally {
    await lab.stop();
  }
});

test('a daemon whose starter process dies without stop() exits too', async () => {
  const dir = freshDir();
  const starter = new URL('../xenstored.ts', import.meta.url).pathname;
  const script = `import { startLabXenstored } from ${JSON.stringify(starter)};
    const lab = await startLabXenstored(${JSON.stringify(dir)});
    console.log(lab.pid); process.exit(0);`;
  try {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]);
    const pid = Number(stdout.trim());
    assert.ok(pid > 0, `starter printed ${stdout}`);
    let gone = false;
    for (let i = 0; i < 100 && !gone; i++) {
      gone = !runningProcess(pid);
      if (!gone) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(gone, `xenstored ${pid} outlived its starter`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a directory too long for a unix socket is refused up front', async () => {
  const long = join(tmpdir(), 'x'.repeat(120));
  await rejection(startLabXenstored(long), /longer than 107 bytes/);
  assert.not.ok(existsSync(long));
});

test.run();
