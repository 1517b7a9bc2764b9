// The xenstore client against the real Xen 4.17 xenstored (lab/xenstore).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { XenstoreClient, XenstoreError } from '../../src/xen/xenstore.js';
import { rejectsWith, sleep, until, withXenstored } from './lab.ts';

const run = promisify(execFile);

test('write, read, directory and rm round-trip, including UTF-8 and empty values', () =>
  withXenstored(async (lab, xs) => {
    await xs.write('/vm/a/name', 'grüße');
    await xs.write('/vm/a/empty', '');
    await xs.mkdir('/vm/a/dir');
    assert.is(await xs.read('/vm/a/name'), 'grüße');
    assert.is(await xs.read('/vm/a/empty'), '');
    assert.is(await xs.read('/vm/a/dir'), '');
    assert.equal((await xs.directory('/vm/a')).sort(), ['dir', 'empty', 'name']);
    assert.equal(await xs.directory('/vm/a/dir'), []);
    // Another client (libxenstore's xenstore-read, -R: raw bytes) sees the same store.
    const { stdout } = await run('xenstore-read', ['-R', '/vm/a/name'], { env: { ...process.env, ...lab.env } });
    assert.is(stdout.trim(), 'grüße');
    await xs.rm('/vm/a');
    assert.is(await xs.tryRead('/vm/a/name'), undefined);
    assert.not.ok((await xs.directory('/vm')).includes('a'));
  }));

test('a missing node is ENOENT with the path in the error', () =>
  withXenstored(async (_lab, xs) => {
    const err = await rejectsWith(xs.read('/no/such/node'), 'ENOENT', /READ \/no\/such\/node failed: ENOENT/);
    assert.is(err.path, '/no/such/node');
    await rejectsWith(xs.directory('/no/such'), 'ENOENT');
    assert.is(await xs.tryRead('/no/such/node'), undefined);
  }));

test('getDomainPath asks xenstored', () =>
  withXenstored(async (_lab, xs) => {
    assert.is(await xs.getDomainPath(0), '/local/domain/0');
    assert.is(await xs.getDomainPath(42), '/local/domain/42');
  }));

test('a watch fires once when set, then for each write below it, and stops after unwatch', () =>
  withXenstored(async (lab, xs) => {
    const other = await XenstoreClient.connect({ path: lab.socketPath });
    try {
      const events: string[] = [];
      await xs.watch('/backend/vif', 'tok', (path, token) => events.push(`${token} ${path}`));
      assert.ok(await until(() => events.length === 1), 'initial event');
      assert.equal(events, ['tok /backend/vif']);
      await other.write('/backend/vif/5/0/state', '1');
      await other.write('/backend/other', 'x'); // not below the watch
      assert.ok(await until(() => events.length === 2), `write event, got ${events}`);
      assert.equal(events[1], 'tok /backend/vif/5/0/state');
      await xs.unwatch('/backend/vif', 'tok');
      await other.write('/backend/vif/5/0/state', '2');
      await other.read('/backend/vif/5/0/state'); // a round trip after the write
      await sleep(50);
      assert.is(events.length, 2, `no event after unwatch, got ${events}`);
    } finally {
      await other.close();
    }
  }));

test('two watches with different tokens get their own events', () =>
  withXenstored(async (_lab, xs) => {
    const a: string[] = [];
    const b: string[] = [];
    await xs.watch('/a', 'A', (p) => a.push(p));
    await xs.watch('/b', 'B', (p) => b.push(p));
    await xs.write('/a/x', '1');
    await xs.write('/b/y', '1');
    assert.ok(await until(() => a.length === 2 && b.length === 2));
    assert.equal(a, ['/a', '/a/x']);
    assert.equal(b, ['/b', '/b/y']);
  }));

test('a transaction that conflicts is retried and commits once', () =>
  withXenstored(async (lab, xs) => {
    const other = await XenstoreClient.connect({ path: lab.socketPath });
    try {
      await xs.write('/counter', '10');
      let attempts = 0;
      const result = await xs.transaction(async (tx) => {
        attempts++;
        const v = Number(await xs.read('/counter', tx));
        // Someone else changes the node between our read and our commit.
        if (attempts === 1) await other.write('/counter', '20');
        await xs.write('/counter', String(v + 1), tx);
        return v + 1;
      });
      assert.is(attempts, 2);
      assert.is(result, 21);
      assert.is(await xs.read('/counter'), '21');
    } finally {
      await other.close();
    }
  }));

test('concurrent transactional increments from several clients lose no update', () =>
  withXenstored(async (lab, xs) => {
    const clients = await Promise.all([1, 2, 3].map(() => XenstoreClient.connect({ path: lab.socketPath })));
    try {
      await xs.write('/n', '0');
      const perClient = 20;
      await Promise.all(
        clients.map(async (c) => {
          for (let i = 0; i < perClient; i++) {
            await c.transaction(async (tx) => {
              const v = Number(await c.read('/n', tx));
              await c.write('/n', String(v + 1), tx);
            }, 1000);
          }
        }),
      );
      assert.is(await xs.read('/n'), String(clients.length * perClient));
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  }));

test('a transaction that keeps conflicting gives up with EAGAIN after the retries', () =>
  withXenstored(async (lab, xs) => {
    const other = await XenstoreClient.connect({ path: lab.socketPath });
    try {
      await xs.write('/hot', '0');
      let attempts = 0;
      await rejectsWith(
        xs.transaction(async (tx) => {
          attempts++;
          await xs.read('/hot', tx);
          await other.write('/hot', String(attempts));
          await xs.write('/hot', 'mine', tx);
        }, 2),
        'EAGAIN',
        /after 3 attempts/,
      );
      assert.is(attempts, 3);
      assert.is(await xs.read('/hot'), '3');
    } finally {
      await other.close();
    }
  }));

test('an exception inside a transaction aborts it: nothing is written', () =>
  withXenstored(async (_lab, xs) => {
    const boom = await xs
      .transaction(async (tx) => {
        await xs.write('/t/x', '1', tx);
        throw new Error('boom');
      })
      .then(() => undefined, (e: unknown) => e as Error);
    assert.is(boom?.message, 'boom');
    assert.is(await xs.tryRead('/t/x'), undefined);
  }));

test('1000 pipelined reads on one connection all get their own answer', () =>
  withXenstored(async (_lab, xs) => {
    const n = 1000;
    await Promise.all(Array.from({ length: n }, (_, i) => xs.write(`/p/${i}`, `value-${i}`)));
    const t0 = process.hrtime.bigint();
    const values = await Promise.all(Array.from({ length: n }, (_, i) => xs.read(`/p/${i}`)));
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    values.forEach((v, i) => assert.is(v, `value-${i}`));
    console.log(`    1000 parallel reads: ${ms.toFixed(1)} ms`);
  }));

test('a request with no reply times out with ETIMEDOUT, and the connection stays usable', () =>
  withXenstored(
    async (lab, xs) => {
      await xs.write('/slow', 'v');
      process.kill(lab.pid, 'SIGSTOP');
      let stopped = true;
      try {
        const t0 = Date.now();
        await rejectsWith(xs.read('/slow'), 'ETIMEDOUT', /READ \/slow: no reply .* within 300 ms/);
        const waited = Date.now() - t0;
        assert.ok(waited >= 290 && waited < 2000, `waited ${waited} ms`);
        process.kill(lab.pid, 'SIGCONT');
        stopped = false;
        // The late reply to the timed-out read is dropped, not mistaken for this one.
        await xs.write('/slow', 'after');
        assert.is(await xs.read('/slow'), 'after');
      } finally {
        if (stopped) process.kill(lab.pid, 'SIGCONT');
      }
    },
    300,
  ));

test('xenstored dying mid-request fails the pending requests and later ones cleanly', () =>
  withXenstored(async (lab, xs) => {
    await xs.write('/k', 'v');
    process.kill(lab.pid, 'SIGSTOP');
    const pending = [xs.read('/k'), xs.directory('/'), xs.write('/k', 'w')].map((p) =>
      rejectsWith(p, 'ECONNRESET', /no reply, xenstore connection to .* lost/),
    );
    await sleep(50);
    process.kill(lab.pid, 'SIGKILL');
    await Promise.all(pending);
    assert.ok(xs.closed);
    await rejectsWith(xs.read('/k'), 'ECONNRESET');
  }));

test('close() rejects requests still waiting and refuses new ones', () =>
  withXenstored(async (_lab, xs) => {
    const waiting = rejectsWith(xs.read('/'), 'ECONNRESET', /client for .* is closed/);
    await xs.close();
    await waiting;
    await rejectsWith(xs.read('/'), 'ENOTCONN');
  }));

test('a payload over 4096 bytes is refused before it is sent', () =>
  withXenstored(async (_lab, xs) => {
    const path = '/big';
    // path + NUL + value: 4 + 1 + 4091 = 4096 is the largest allowed.
    await xs.write(path, 'x'.repeat(4091));
    assert.is((await xs.read(path)).length, 4091);
    await rejectsWith(xs.write(path, 'x'.repeat(4092)), 'E2BIG', /payload is 4097 bytes.*at most 4096.*nothing was sent/);
    // The connection is still fine and the old value untouched.
    assert.is((await xs.read(path)).length, 4091);
  }));

test('connecting to a missing socket or a dead one says what to do', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xsc-'));
  try {
    await rejectsWith(XenstoreClient.connect({ path: join(dir, 'nope') }), 'ENOENT', /is xenstored running\?/);
    // A socket file nobody listens on, as a crashed xenstored leaves behind.
    const sock = join(dir, 'dead');
    const script = `require('net').createServer().listen(${JSON.stringify(sock)}, () => process.kill(process.pid, 'SIGKILL'))`;
    await run(process.execPath, ['-e', script]).catch(() => undefined);
    await rejectsWith(XenstoreClient.connect({ path: sock }), 'ECONNREFUSED', /is xenstored running\?/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('connect() without a path uses XENSTORED_PATH like libxenstore', () =>
  withXenstored(async (lab) => {
    const saved = process.env.XENSTORED_PATH;
    process.env.XENSTORED_PATH = lab.socketPath;
    try {
      const c = await XenstoreClient.connect();
      assert.is(c.path, lab.socketPath);
      assert.is(await c.getDomainPath(3), '/local/domain/3');
      await c.close();
    } finally {
      if (saved === undefined) delete process.env.XENSTORED_PATH;
      else process.env.XENSTORED_PATH = saved;
    }
  }));

test('permissions can be set and read back', () =>
  withXenstored(async (_lab, xs) => {
    await xs.write('/perm/x', '1');
    await xs.setPermissions('/perm/x', ['n0', 'r5']);
    assert.equal(await xs.getPermissions('/perm/x'), ['n0', 'r5']);
    const err = await rejectsWith(xs.setPermissions('/perm/x', ['q1' as 'n1']), 'EINVAL');
    assert.instance(err, XenstoreError);
  }));

test.run();
