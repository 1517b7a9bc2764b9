// xfer is the lab's measuring tape and correctness oracle: every transfer
// it calls ok must have arrived whole, and every broken one must be reported
// (never a crash, never a hang). Runs between two network namespaces joined
// by a veth, over IPv4 and IPv6.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIR = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(DIR, 'build/xfer');
const RELAY = join(DIR, 'test/mangling-relay.mjs');
const NS_C = 'xft-c';
const NS_S = 'xft-s';
const V4 = { client: '10.198.0.1', server: '10.198.0.2' };
const V6 = { client: 'fd00:198::1', server: 'fd00:198::2' };
const PORT = 5001; // the long-lived server
const SPARE_PORT = 5003; // servers a test kills
const RELAY_PORT = 5004;

interface Transfer {
  id: number;
  dir: string;
  size: number;
  ok: boolean;
  fct_ms: number | null;
  goodput_mbps: number | null;
  connect_ms: number | null;
  sha256_sender: string | null;
  sha256_receiver: string | null;
  bytes_received: number | null;
  local: string | null;
  remote: string;
  peer_saw: string | null;
  cc: string | null;
  peer_cc: string | null;
  first_bad_offset?: number;
  error?: string;
}
interface Report {
  transfers: Transfer[];
  summary: { count: number; ok: number; failed: number; fct_ms_median: number | null };
}
interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

const tmp = mkdtempSync(join(tmpdir(), 'xft-'));
let server: ChildProcess | undefined;
const extra = new Set<ChildProcess>(); // spare servers and relays, killed in after()

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function deleteNamespaces(): void {
  for (const ns of [NS_C, NS_S]) {
    try {
      ip('netns', 'del', ns);
    } catch {
      // not there: nothing to clean
    }
  }
}

/** Runs the built xfer in a namespace; resolves with whatever happened. */
function xfer(ns: string, args: string[], hardLimitMs = 60_000): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const p = spawn('ip', ['netns', 'exec', ns, BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Only a safety net: the tests below assert xfer's own timeouts.
    const guard = setTimeout(() => p.kill('SIGKILL'), hardLimitMs);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

async function run(to: string, ...args: string[]): Promise<{ out: Outcome; report: Report }> {
  const out = await xfer(NS_C, ['run', '--to', to, '--json', ...args]);
  let report: Report;
  try {
    report = JSON.parse(out.stdout) as Report;
  } catch {
    throw new Error(`xfer run printed no JSON (exit ${out.code}): ${out.stdout} ${out.stderr}`);
  }
  return { out, report };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitForFile(path: string, what: string, p: ChildProcess): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (existsSync(path)) return;
    if (p.exitCode !== null) throw new Error(`${what} exited early with ${p.exitCode}`);
    await sleep(50);
  }
  throw new Error(`${what} did not become ready within 5 s`);
}

/** Starts `xfer serve` in the server namespace and waits for its ready file. */
async function startServer(listen: string, ...args: string[]): Promise<ChildProcess> {
  const ready = join(tmp, `ready-${Date.now()}-${Math.random()}`);
  const p = spawn('ip', ['netns', 'exec', NS_S, BIN, 'serve', '--listen', listen, '--ready-file', ready, ...args], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitForFile(ready, `xfer serve --listen ${listen}`, p);
  return p;
}

async function startRelay(mode: string, dir: string, offset: number): Promise<ChildProcess> {
  const p = spawn(
    'ip',
    ['netns', 'exec', NS_S, process.execPath, RELAY, V4.server, String(RELAY_PORT), V4.server, String(PORT), mode, dir, String(offset)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  extra.add(p);
  await new Promise<void>((resolve, reject) => {
    p.stdout!.once('data', () => resolve());
    p.once('exit', (code) => reject(new Error(`relay exited with ${code}`)));
  });
  return p;
}

/** Kills by pid and waits until it is gone (so its port is free again). */
async function stop(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL');
  await gone;
  extra.delete(p);
}

function assertWhole(t: Transfer, size: number): void {
  assert.ok(t.ok, `transfer ${t.id} failed: ${t.error}`);
  assert.is(t.size, size);
  assert.is(t.bytes_received, size);
  assert.match(t.sha256_sender ?? '', /^[0-9a-f]{64}$/);
  assert.is(t.sha256_receiver, t.sha256_sender);
  assert.ok(t.fct_ms !== null && t.fct_ms > 0, `fct_ms ${t.fct_ms}`);
  assert.ok(t.connect_ms !== null && t.connect_ms >= 0, `connect_ms ${t.connect_ms}`);
  // Downloads end on the client's own clock, after its connect() returned. An
  // upload ends at the server's last byte, which for 0 or 1 bytes can come
  // before the client is scheduled to see connect() return (seen in a loaded run).
  if (t.dir === 'down') assert.ok(t.fct_ms >= t.connect_ms, `the client finished (${t.fct_ms} ms) before its handshake (${t.connect_ms} ms)`);
  if (size > 0) assert.ok(t.goodput_mbps !== null && t.goodput_mbps > 0);
  assert.is(t.peer_saw, t.local, 'the server must see the client address itself');
  assert.is(t.error, undefined);
}

test.before(async () => {
  execFileSync('make', ['-s', '-j2', '-C', DIR], { stdio: 'inherit' });
  deleteNamespaces(); // leftovers of a run that was killed
  ip('netns', 'add', NS_C);
  ip('netns', 'add', NS_S);
  ip('link', 'add', 'xft-vc', 'netns', NS_C, 'type', 'veth', 'peer', 'name', 'xft-vs', 'netns', NS_S);
  for (const [ns, dev, a] of [
    [NS_C, 'xft-vc', V4.client],
    [NS_S, 'xft-vs', V4.server],
  ] as const) {
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'addr', 'add', `${a}/24`, 'dev', dev);
    ip('-n', ns, 'addr', 'add', `${a === V4.client ? V6.client : V6.server}/64`, 'dev', dev, 'nodad');
    ip('-n', ns, 'link', 'set', dev, 'up');
  }
  // Dual-stack listener: IPv4 clients arrive as ::ffff:a.b.c.d and must
  // still be reported as plain a.b.c.d.
  server = await startServer(`[::]:${PORT}`, '--cc', 'reno');
});

test.after(async () => {
  await stop(server);
  for (const p of [...extra]) await stop(p);
  deleteNamespaces();
  rmSync(tmp, { recursive: true, force: true });
});

const SIZES: [string, number][] = [
  ['0', 0],
  ['1', 1],
  ['100k', 100_000],
  ['10m', 10_000_000],
  ['100m', 100_000_000],
];

for (const [family, addr] of [
  ['IPv4', `${V4.server}:${PORT}`],
  ['IPv6', `[${V6.server}]:${PORT}`],
] as const) {
  for (const dir of ['up', 'down']) {
    test(`${family} ${dir}: sizes 0, 1, 100k, 10m, 100m arrive whole with matching SHA-256`, async () => {
      for (const [text, size] of SIZES) {
        const { out, report } = await run(addr, '--dir', dir, '--size', text);
        assert.is(out.code, 0, `size ${text}: ${out.stdout}`);
        assert.is(report.transfers.length, 1);
        assert.is(report.transfers[0].dir, dir);
        assertWhole(report.transfers[0], size);
        assert.is(report.summary.ok, 1);
      }
    });
  }
}

test('peer_saw is the client own address and port, over IPv4 and IPv6', async () => {
  for (const addr of [`${V4.server}:${PORT}`, `[${V6.server}]:${PORT}`]) {
    const { report } = await run(addr, '--dir', 'up', '--size', '1k');
    const t = report.transfers[0];
    const client = addr.startsWith('[') ? `[${V6.client}]` : V4.client;
    assert.match(t.local ?? '', new RegExp(`^${client.replace(/[[\]]/g, '\\$&')}:\\d+$`));
    assert.is(t.peer_saw, t.local);
    assert.is(t.remote, addr);
  }
});

test('20 parallel transfers each way all arrive whole, on distinct connections with distinct content', async () => {
  for (const dir of ['up', 'down']) {
    const { out, report } = await run(`${V4.server}:${PORT}`, '--dir', dir, '--size', '2m', '--count', '20', '--parallel', '20');
    assert.is(out.code, 0, out.stdout);
    assert.is(report.transfers.length, 20);
    report.transfers.forEach((t) => assertWhole(t, 2_000_000));
    assert.is(new Set(report.transfers.map((t) => t.local)).size, 20);
    assert.is(new Set(report.transfers.map((t) => t.sha256_sender)).size, 20, 'each transfer has its own seed');
    assert.equal(
      report.transfers.map((t) => t.id),
      [...Array(20).keys()],
    );
    assert.is(report.summary.ok, 20);
    assert.is(report.summary.failed, 0);
    assert.ok(report.summary.fct_ms_median !== null && report.summary.fct_ms_median > 0);
  }
});

test('the same seed gives the same bytes; another seed gives others', async () => {
  const hash = async (seed: string) =>
    (await run(`${V4.server}:${PORT}`, '--dir', 'down', '--size', '100k', '--seed', seed)).report.transfers[0].sha256_receiver;
  const a = await hash('7');
  assert.is(await hash('7'), a);
  assert.is.not(await hash('8'), a);
});

test('connection refused: ok false with ECONNREFUSED, exit 1, no crash', async () => {
  const { out, report } = await run(`${V4.server}:5999`, '--dir', 'up', '--size', '1m', '--count', '2');
  assert.is(out.code, 1);
  assert.is(report.transfers.length, 2);
  for (const t of report.transfers) {
    assert.is(t.ok, false);
    assert.match(t.error ?? '', /ECONNREFUSED.*10\.198\.0\.2:5999/);
    assert.is(t.fct_ms, null);
  }
  assert.is(report.summary.failed, 2);
});

for (const dir of ['up', 'down']) {
  test(`${dir}: a server killed mid-transfer gives ok false quickly, with how far it got`, async () => {
    const spare = await startServer(`${V4.server}:${SPARE_PORT}`);
    extra.add(spare);
    // 50 GB cannot finish in the 400 ms before the kill on any machine here
    const running = run(`${V4.server}:${SPARE_PORT}`, '--dir', dir, '--size', '50g', '--timeout', '20');
    await sleep(400);
    await stop(spare);
    const { out, report } = await running;
    const t = report.transfers[0];
    assert.is(out.code, 1);
    assert.is(t.ok, false);
    assert.match(t.error ?? '', dir === 'up' ? /(ECONNRESET|EPIPE) after \d+ bytes sent/ : /EOF after \d+ of 50000000000 bytes received|ECONNRESET/);
    assert.ok(out.ms < 10_000, `took ${out.ms} ms`);
  });

  test(`${dir}: a frozen server ends in the --timeout error, not a hang`, async () => {
    const spare = await startServer(`${V4.server}:${SPARE_PORT}`);
    extra.add(spare);
    const running = run(`${V4.server}:${SPARE_PORT}`, '--dir', dir, '--size', '50g', '--timeout', '1.5');
    await sleep(300);
    spare.kill('SIGSTOP');
    const { out, report } = await running;
    await stop(spare); // SIGKILL ends a stopped process too
    assert.is(out.code, 1);
    assert.match(report.transfers[0].error ?? '', /^timeout after 1\.5 s \(--timeout\) with \d+ of 50000000000 bytes/);
    assert.ok(out.ms >= 1400 && out.ms < 6000, `took ${out.ms} ms`);
  });
}

test('--cc reno is used on both ends; an unknown algorithm is refused with the list of available ones', async () => {
  const { out, report } = await run(`${V4.server}:${PORT}`, '--dir', 'down', '--size', '1m', '--cc', 'reno');
  assert.is(out.code, 0);
  assert.is(report.transfers[0].cc, 'reno');
  assert.is(report.transfers[0].peer_cc, 'reno', 'the server was started with --cc reno');
  for (const args of [
    ['run', '--to', `${V4.server}:${PORT}`, '--dir', 'up', '--size', '1', '--cc', 'nosuchcc'],
    ['serve', '--listen', `${V4.server}:${SPARE_PORT}`, '--cc', 'nosuchcc'],
  ]) {
    const bad = await xfer(NS_C, args, 5000);
    assert.is(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--cc nosuchcc: no such congestion control.*available: .*reno/);
  }
});

test('--sndbuf/--rcvbuf are accepted and the transfer stays whole', async () => {
  for (const dir of ['up', 'down']) {
    const { out, report } = await run(`${V4.server}:${PORT}`, '--dir', dir, '--size', '1m', '--sndbuf', '64ki', '--rcvbuf', '64ki');
    assert.is(out.code, 0, out.stdout);
    assertWhole(report.transfers[0], 1_000_000);
  }
});

test('without --json: a table with one line per transfer and a summary line', async () => {
  const out = await xfer(NS_C, ['run', '--to', `${V4.server}:${PORT}`, '--dir', 'down', '--size', '10k', '--count', '2']);
  assert.is(out.code, 0);
  const lines = out.stdout.trim().split('\n');
  assert.is(lines.length, 4);
  assert.match(lines[0], /^id\s+dir\s+size\s+fct_ms\s+goodput_mbps\s+ok/);
  assert.match(lines[1], /^0\s+down\s+10000\s+[\d.]+\s+[\d.]+\s+yes\s+10\.198\.0\.1:\d+$/);
  assert.match(lines[3], /^2 of 2 ok; fct_ms median/);
});

test('bad arguments: exit 2 with a message that says what was wrong', async () => {
  const cases: [string[], RegExp][] = [
    [[], /usage:/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['run', '--dir', 'up', '--size', '1'], /--to ADDR:PORT is required/],
    [['run', '--to', '10.198.0.2', '--dir', 'up', '--size', '1'], /not a numeric address with a port/],
    [['run', '--to', '10.198.0.2:5001', '--dir', 'sideways', '--size', '1'], /--dir 'sideways'/],
    [['run', '--to', '10.198.0.2:5001', '--dir', 'up', '--size', '12q'], /--size '12q' is not a size/],
    [['run', '--to', '10.198.0.2:5001', '--dir', 'up'], /--size BYTES is required/],
    [['run', '--to', '10.198.0.2:5001', '--dir', 'up', '--size', '1', '--count', '0'], /--count '0'/],
    [['run', '--to', '10.198.0.2:5001', '--dir', 'up', '--size', '1', '--timeout', '-1'], /--timeout '-1'/],
    [['run', '--to', '10.198.0.2:5001', '--dir', 'up', '--size', '1', '--bogus'], /unknown option '--bogus'/],
    [['run', '--to'], /--to needs a value/],
    [['serve'], /--listen ADDR:PORT is required/],
  ];
  for (const [args, message] of cases) {
    const out = await xfer(NS_C, args, 5000);
    assert.is(out.code, 2, `xfer ${args.join(' ')}`);
    assert.match(out.stderr, message);
    assert.is(out.stdout, '', 'errors go to stderr');
  }
});

// The oracle: a proxy that damages the stream must be caught, with the
// offset of the first bad byte where one can be known.
const RELAYED = `${V4.server}:${RELAY_PORT}`;
const OFFSET = 54_321;

test('a relay that passes bytes unchanged is ok (the broken relays below differ only in the damage)', async () => {
  const relay = await startRelay('pass', 'down', 0);
  for (const dir of ['up', 'down']) {
    const { out, report } = await run(RELAYED, '--dir', dir, '--size', '100k');
    assert.is(out.code, 0, report.transfers[0].error);
  }
  await stop(relay);
});

for (const dir of ['up', 'down']) {
  test(`${dir}: one flipped byte is caught at its offset`, async () => {
    const relay = await startRelay('flip', dir, OFFSET);
    const { out, report } = await run(RELAYED, '--dir', dir, '--size', '100k');
    await stop(relay);
    const t = report.transfers[0];
    assert.is(out.code, 1);
    assert.is(t.ok, false);
    assert.is(t.bytes_received, 100_000);
    assert.is.not(t.sha256_receiver, t.sha256_sender);
    assert.is(t.first_bad_offset, OFFSET);
    assert.match(t.error ?? '', /payload corrupted.*offset 54321/);
  });

  test(`${dir}: one lost byte is caught`, async () => {
    const relay = await startRelay('drop', dir, OFFSET);
    const { out, report } = await run(RELAYED, '--dir', dir, '--size', '100k');
    await stop(relay);
    const t = report.transfers[0];
    assert.is(out.code, 1);
    assert.is(t.ok, false);
    assert.is(t.first_bad_offset, OFFSET);
    assert.match(t.error ?? '', dir === 'up' ? /EOF after 99999 of 100000 bytes: bytes lost/ : /connection closed/);
  });

  test(`${dir}: two reordered blocks are caught at the first of them`, async () => {
    const relay = await startRelay('swap', dir, OFFSET);
    const { out, report } = await run(RELAYED, '--dir', dir, '--size', '100k');
    await stop(relay);
    const t = report.transfers[0];
    assert.is(out.code, 1);
    assert.is(t.bytes_received, 100_000);
    assert.is(t.first_bad_offset, OFFSET);
    assert.is.not(t.sha256_receiver, t.sha256_sender);
  });
}

test('a relay that closes both directions on the client half-close fails the download', async () => {
  const relay = await startRelay('fullclose', 'down', 0);
  const { out, report } = await run(RELAYED, '--dir', 'down', '--size', '10m', '--timeout', '10');
  await stop(relay);
  assert.is(out.code, 1);
  assert.is(report.transfers[0].ok, false);
  assert.match(report.transfers[0].error ?? '', /ECONNRESET|EOF after/);
});

test('the server keeps serving after all of the above', async () => {
  const { out, report } = await run(`${V4.server}:${PORT}`, '--dir', 'up', '--size', '1m', '--count', '3', '--parallel', '3');
  assert.is(out.code, 0);
  report.transfers.forEach((t) => assertWhole(t, 1_000_000));
  assert.is(readFileSync(`/proc/${server!.pid}/comm`, 'utf8').trim(), 'xfer');
});

test.run();
