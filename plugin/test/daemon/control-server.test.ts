// The control server over a real Unix socket in a temporary directory: request
// checking, error codes, ordering, size limit, undoIfGone, and the socket's
// life (0600, a live daemon refused, a stale file removed, removed at close).
// The operations behind it are a recording ControlOps: the server's job is the
// protocol, the operations are the lab suites' (lab/test/admin*.test.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlServer, type ControlOps } from '../../src/daemon/control-server.js';
import { RequestError } from '../../src/daemon/request-error.js';
import { Logger } from '../../src/daemon/log.js';
import { ConfigError } from '../../src/config/index.js';
import { MAX_REQUEST_BYTES, PROTOCOL_VERSION, type AttachmentInfo } from '../../src/daemon/protocol.js';
import { ControlClient, ControlError } from '../../src/daemon/client.js';

const dir = mkdtempSync(join(tmpdir(), 'xlnet-ctl-'));
const logLines: string[] = [];
const log = new Logger('debug', (l) => logLines.push(l));

const info = (vif: string): AttachmentInfo => ({
  vif, id: 1, mode: 'route', profile: 'default', options: {}, state: 'active', attachedAt: new Date(0).toISOString(),
  flows: 0, bytesUp: 0, bytesDown: 0, flowsTotal: 0, flowsRefused: 0,
});

/** Records every call; `attach` waits for `release` when a test sets it. */
function recordingOps() {
  const calls: unknown[][] = [];
  let gate: Promise<void> | undefined;
  let open: () => void = () => undefined;
  const ops: ControlOps = {
    hello: () => ({ version: 'test', protocol: PROTOCOL_VERSION }),
    status: () => { throw new Error('disk on fire'); },
    list: () => { calls.push(['list']); return [info('vif1.0')]; },
    attach: async (...a) => { calls.push(['attach', ...a]); if (gate) await gate; return info(a[0]); },
    detach: async (...a) => { calls.push(['detach', ...a]); if (a[0] === 'vif9.9') throw new RequestError('E_NOT_ATTACHED', 'vif9.9 is not attached'); return info(a[0]); },
    set: async (...a) => { calls.push(['set', ...a]); throw new ConfigError({ code: 'E_BAD_VALUE', file: 'xlnet.conf', key: 'buffer', value: 'x', problem: 'not a size' }); },
    flows: (vif) => { calls.push(['flows', vif]); return []; },
    reload: () => { throw new Error('xlnet.conf:3: no such key'); },
  };
  return { ops, calls, hold: () => { gate = new Promise((r) => { open = r; }); }, release: () => open() };
}

async function withServer(fn: (s: ControlServer, r: ReturnType<typeof recordingOps>, path: string) => Promise<void>): Promise<void> {
  const path = join(mkdtempSync(join(dir, 's-')), 'xlnetd.sock');
  const r = recordingOps();
  const s = new ControlServer(path, r.ops, log);
  await s.checkNotRunning();
  await s.listen();
  try { await fn(s, r, path); } finally { await s.close(); }
}

/** Sends raw bytes, collects response lines until `n` arrived or the server closed. */
function raw(path: string, data: string, n: number): Promise<Array<Record<string, any>>> {
  return new Promise((resolve, reject) => {
    const c = net.connect(path);
    let buf = '';
    const out: Array<Record<string, any>> = [];
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) { out.push(JSON.parse(buf.slice(0, i))); buf = buf.slice(i + 1); }
      if (out.length >= n) { c.destroy(); resolve(out); }
    });
    c.on('close', () => resolve(out));
    c.on('error', reject);
    c.write(data);
  });
}

const req = (o: Record<string, unknown>) => `${JSON.stringify({ v: PROTOCOL_VERSION, id: 1, ...o })}\n`;

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('the socket is root only (0600) and answers hello through the real client', () => withServer(async (_s, _r, path) => {
  assert.is(statSync(path).mode & 0o777, 0o600);
  const c = await ControlClient.connect({ socket: path });
  try {
    assert.equal(await c.request({ op: 'hello' }), { version: 'test', protocol: PROTOCOL_VERSION });
  } finally { c.close(); }
}));

test('malformed requests get the protocol\'s error codes, naming the problem', () => withServer(async (_s, r, path) => {
  const cases: Array<[string, string, RegExp]> = [
    ['not json\n', 'E_PARSE', /not valid JSON/],
    ['[1,2]\n', 'E_BAD_REQUEST', /JSON object/],
    [`${JSON.stringify({ v: 99, id: 1, op: 'hello' })}\n`, 'E_VERSION', /version 99 not supported/],
    [req({}), 'E_BAD_REQUEST', /missing 'op'/],
    [req({ op: 'explode' }), 'E_UNKNOWN_OP', /unknown op 'explode' \(known: hello, status/],
    [req({ op: 'attach' }), 'E_BAD_REQUEST', /'vif' must be a non-empty string/],
    [req({ op: 'attach', vif: 'vif1.0', profile: 7 }), 'E_BAD_REQUEST', /'profile' must be a non-empty string/],
    [req({ op: 'attach', vif: 'vif1.0', required: 'yes' }), 'E_BAD_REQUEST', /'required' must be true or false/],
    [req({ op: 'attach', vif: 'vif1.0', options: ['a'] }), 'E_BAD_REQUEST', /'options' must be an object/],
    [req({ op: 'detach', vif: 'vif1.0', mode: 'gently' }), 'E_BAD_REQUEST', /'mode' must be 'drain' or 'reset'/],
  ];
  for (const [line, code, msg] of cases) {
    const [res] = await raw(path, line, 1);
    assert.is(res!.ok, false, line);
    assert.is(res!.error.code, code, line);
    assert.match(res!.error.message, msg);
  }
  assert.equal(r.calls, [], 'no operation ran for a malformed request');
}));

test('an operation\'s refusal keeps its code; a config error is E_BAD_REQUEST; anything else is E_INTERNAL and logged', () => withServer(async (_s, _r, path) => {
  const [notAttached] = await raw(path, req({ op: 'detach', vif: 'vif9.9' }), 1);
  assert.equal(notAttached!.error, { code: 'E_NOT_ATTACHED', message: 'vif9.9 is not attached' });
  const [bad] = await raw(path, req({ op: 'set', vif: 'vif1.0', options: { buffer: 'x' } }), 1);
  assert.is(bad!.error.code, 'E_BAD_REQUEST');
  assert.match(bad!.error.message, /buffer = x: not a size/);
  const [reload] = await raw(path, req({ op: 'reload' }), 1);
  assert.equal(reload!.error, { code: 'E_BAD_REQUEST', message: 'configuration not reloaded: xlnet.conf:3: no such key' });
  logLines.length = 0;
  const [internal] = await raw(path, req({ op: 'status' }), 1);
  assert.equal(internal!.error, { code: 'E_INTERNAL', message: 'disk on fire' });
  assert.ok(logLines.some((l) => /error: request status failed: Error: disk on fire/.test(l)), logLines.join(''));
}));

test('valid requests reach the operations with their checked arguments; ids come back', () => withServer(async (_s, r, path) => {
  const res = await raw(path, [
    `${JSON.stringify({ v: 1, id: 'a', op: 'attach', vif: 'vif1.0', profile: 'wan', options: { buffer: '4m' }, domain: 'web', required: true })}\n`,
    `${JSON.stringify({ v: 1, id: 2, op: 'detach', vif: 'vif1.0' })}\n`,
    `${JSON.stringify({ v: 1, id: 3, op: 'flows' })}\n`,
  ].join(''), 3);
  assert.equal(res.map((x) => [x.id, x.ok]), [['a', true], [2, true], [3, true]]);
  assert.equal(r.calls, [
    ['attach', 'vif1.0', 'wan', { buffer: '4m' }, 'web', true],
    ['detach', 'vif1.0', 'drain'],
    ['flows', undefined],
  ]);
}));

test('requests on one connection are answered in order, a slow one first', () => withServer(async (_s, r, path) => {
  r.hold();
  const answers = raw(path, `${JSON.stringify({ v: 1, id: 1, op: 'attach', vif: 'vif1.0' })}\n${JSON.stringify({ v: 1, id: 2, op: 'list' })}\n`, 2);
  await new Promise((res) => setTimeout(res, 100));
  assert.equal(r.calls.map((c) => c[0]), ['attach'], 'the second request waits for the first');
  r.release();
  assert.equal((await answers).map((x) => x.id), [1, 2]);
}));

test('a request line over the limit is refused with E_TOO_LARGE and the connection closed', () => withServer(async (_s, r, path) => {
  const res = await raw(path, 'x'.repeat(MAX_REQUEST_BYTES + 10), 1);
  assert.is(res[0]?.error.code, 'E_TOO_LARGE');
  assert.equal(r.calls, []);
}));

test('an attach with undoIfGone whose requester left before the answer is detached again', () => withServer(async (_s, r, path) => {
  r.hold();
  const c = net.connect(path);
  await new Promise((res) => c.once('connect', res));
  c.end(`${JSON.stringify({ v: 1, id: 1, op: 'attach', vif: 'vif4.0', undoIfGone: true })}\n`);
  await new Promise((res) => c.once('close', res));
  r.release();
  for (let i = 0; i < 50 && r.calls.length < 2; i++) await new Promise((res) => setTimeout(res, 20));
  assert.equal(r.calls.map((x) => x.slice(0, 2)), [['attach', 'vif4.0'], ['detach', 'vif4.0']]);
  assert.is(r.calls[1]![2], 'reset');
}));

test('a second server on a live socket is refused; a stale socket file is replaced; close removes it', async () => {
  await withServer(async (_s, r, path) => {
    const second = new ControlServer(path, r.ops, log);
    try {
      await second.checkNotRunning();
      assert.unreachable('started next to a live server');
    } catch (e) {
      assert.match((e as Error).message, /another xlnetd is already listening/);
    }
  });
  const path = join(mkdtempSync(join(dir, 's-')), 'xlnetd.sock');
  writeFileSync(path, ''); // left by a crash
  const s = new ControlServer(path, recordingOps().ops, log);
  await s.checkNotRunning();
  await s.listen();
  const c = await ControlClient.connect({ socket: path });
  await s.close();
  assert.is(existsSync(path), false);
  await c.request({ op: 'hello' }).then(() => assert.unreachable('answered after close'), (e) => assert.instance(e, ControlError));
  c.close();
});

test.run();
