// The kernel relay's verdict (relay.bpf.c) on two loopback TCP pairs: what it
// redirects arrives byte-exact, and when the target stops reading it stops
// redirecting at the limit and leaves the rest on the source socket, where
// TCP's window stops the sender (the sockmap had no backpressure of its own).
// This test process puts itself into a test cgroup (the datapath counts and
// splices only sockets of processes in its cgroup) and leaves it at the end.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import * as libc from '../../src/ffi/libc.js';
import { cgroupOf, enterCgroup, loadDatapath, type Datapath } from '../../src/datapath/index.js';
import { TestCgroup, buildObjects } from './lab.js';
import { fdOf } from '../../src/service/socket-fd.js';
import { unsplice } from '../../src/service/kernel-relay.js';

let cg: TestCgroup | undefined;
let dp: Datapath | undefined;
let home = '';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test.before(async () => {
  buildObjects();
  home = cgroupOf();
  cg = new TestCgroup();
  cg.add(process.pid);
  dp = await loadDatapath({ cgroup: cg.path });
  assert.ok(dp.relayAvailable, dp.relayError);
});

test.after(async () => {
  dp?.close();
  enterCgroup(home);
  await cg?.remove();
});

/** A -> S (accepted, spliced) ==kernel==> W (spliced) -> R. Returns the pieces. */
async function splice(limit: number, onReceiver: (s: net.Socket) => void) {
  const R = net.createServer({ pauseOnConnect: true }, onReceiver);
  await new Promise<void>((r) => R.listen(0, '127.0.0.1', r));
  let S: net.Socket | undefined;
  const L = net.createServer({ pauseOnConnect: true }, (s) => { S = s; });
  await new Promise<void>((r) => L.listen(0, '127.0.0.1', r));
  dp!.registerSocket(fdOf(L), { attachment: 9, profile: 0 });
  const A = net.connect({ port: (L.address() as net.AddressInfo).port, host: '127.0.0.1' });
  A.on('error', () => undefined);
  await new Promise((r) => A.once('connect', r));
  while (!S) await sleep(2);
  const w = libc.tcpSocket(4);
  dp!.registerSocket(w, { attachment: 9, profile: 0 });
  libc.connectStart(w, '127.0.0.1', (R.address() as net.AddressInfo).port);
  while (libc.tcpInfo(w).state !== libc.TCP_ESTABLISHED) await sleep(1);
  const s = libc.dup(fdOf(S));
  const cs = libc.socketCookie(s), cw = libc.socketCookie(w);
  dp!.relaySetCtl(cs, { peer: cw, limit, baseAcked: dp!.flow(cw)!.bytesAcked, forwarded: 0 });
  dp!.relaySetCtl(cw, { peer: cs, limit, baseAcked: dp!.flow(cs)!.bytesAcked, forwarded: 0 });
  for (const which of ['targets', 'sources'] as const) { dp!.relayInsert(which, cs, s); dp!.relayInsert(which, cw, w); }
  const close = () => {
    A.destroy(); S!.destroy();
    for (const c of [cs, cw]) unsplice(dp!, c);
    libc.close(s); libc.close(w);
    R.close(); L.close();
  };
  return { A, cs, close };
}

function pattern(off: number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = ((off + i) * 7 + ((off + i) >> 13)) & 0xff;
  return b;
}

test('what the verdict redirects arrives byte-exact (100 MB)', async () => {
  const TOTAL = 100_000_000;
  let got = 0, bad = -1;
  const { A, cs, close } = await splice(1 << 30, (r) => {
    r.on('data', (d: Buffer) => {
      if (bad < 0) { const i = pattern(got, d.length).findIndex((v, k) => v !== d[k]); if (i >= 0) bad = got + i; }
      got += d.length;
    });
    r.resume();
  });
  try {
    for (let sent = 0; sent < TOTAL;) {
      const n = Math.min(65536, TOTAL - sent);
      if (!A.write(pattern(sent, n))) await new Promise((r) => A.once('drain', r));
      sent += n;
    }
    for (let i = 0; i < 600 && got < TOTAL; i++) await sleep(50);
    assert.is(got, TOTAL);
    assert.is(bad, -1, `first bad byte at ${bad}`);
    const st = dp!.relayStat(cs)!;
    assert.is(st.redirected, TOTAL, 'every byte went through the kernel');
    assert.is(st.passed, 0);
  } finally { close(); }
});

test('a FIN arriving while redirected data waits for its socket does not stall that data', async () => {
  // A reads nothing at first, so what R sends piles up in the kernel's queue
  // for S; then A half-closes and R sends more. A's FIN, passed, waited in
  // that queue; the kernel's worker took its 0-byte delivery for an error
  // (EPIPE) and stopped S's transmit: what R sent after it never came.
  const HALF = 16 * 1048576, TOTAL = 2 * HALF;
  let r: net.Socket | undefined;
  const { A, close } = await splice(1 << 30, (s) => { r = s; s.resume(); });
  try {
    A.pause();
    while (!r) await sleep(2);
    await new Promise<void>((res) => r!.write(Buffer.alloc(HALF, 5), () => res()));
    await sleep(200);
    A.end();
    await sleep(200);
    await new Promise<void>((res) => r!.write(Buffer.alloc(HALF, 6), () => res()));
    await sleep(200);
    let got = 0;
    A.on('data', (d: Buffer) => { got += d.length; });
    A.resume();
    for (let i = 0; i < 100 && got < TOTAL; i++) await sleep(50);
    assert.is(got, TOTAL, 'every byte R sent reached A after A half-closed');
  } finally { close(); }
});

test('a target that reads nothing: redirects stop at the limit, the sender is held by TCP', async () => {
  const LIMIT = 1 << 20;
  const { A, cs, close } = await splice(LIMIT, () => undefined /* never reads */);
  try {
    const chunk = Buffer.alloc(65536, 7);
    let sent = 0;
    const t0 = Date.now();
    // A blasts for 2 s; write() only fails over when the kernel stops taking data.
    while (Date.now() - t0 < 2000) {
      if (A.write(chunk)) sent += chunk.length; else { await Promise.race([new Promise((r) => A.once('drain', r)), sleep(200)]); }
    }
    const st = dp!.relayStat(cs)!;
    assert.ok(st.redirected <= LIMIT + 65536, `redirected ${st.redirected} > limit ${LIMIT} + one skb`);
    assert.ok(st.passing, 'the direction is passing: data stays on the source socket');
    const before = st.passed;
    await sleep(1000);
    const later = dp!.relayStat(cs)!;
    assert.is(later.passed, before, 'nothing more arrived: the source\'s window is closed');
    assert.ok(sent < 64 * 1048576, `the sender was held back (it got ${sent} bytes accepted)`);
  } finally { close(); }
});

test.run();
