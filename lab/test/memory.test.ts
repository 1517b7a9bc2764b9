// A fast guest pushing into the slowest link for 60 s: Dom0's memory for the
// connection (kernel socket queues of both legs + the daemon's user-space
// buffers) stays within the configured bound and does not grow.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { Lab } from '../lab.js';
import { call } from '../../plugin/src/daemon/client.js';
import type { StatusInfo } from '../../plugin/src/daemon/protocol.js';
import { run, sleep } from '../exec.js';

const PREFIX = 'xlq';
const BUFFER = 1024 * 1024; // profile `buffer = 1m`
let lab: Lab;

test.after(async () => { await lab?.down(); });

interface SkMem { rmem: number; wmem: number; backlog: number }

/** skmem of xlnetd's established sockets towards or from port 5001 (both legs). */
async function socketMemory(ns: string): Promise<SkMem[]> {
  const r = await run(['ss', '-Htmn', 'state', 'established', '( dport = :5001 or sport = :5001 )'], { ns });
  const out: SkMem[] = [];
  for (const m of r.stdout.matchAll(/skmem:\(r(\d+),rb\d+,t(\d+),tb\d+,f\d+,w(\d+),o\d+,bl(\d+)/g)) {
    out.push({ rmem: Number(m[1]), wmem: Math.max(Number(m[2]), Number(m[3])), backlog: Number(m[4]) });
  }
  return out;
}

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

test('60 s of a fast guest into geo-small (2 Mbit/s up): bounded and flat', async () => {
  lab = await Lab.up({ prefix: PREFIX, link: 'geo-small' });
  await lab.addGuest({ domid: 1, profile: 'modern' });
  await lab.startRemoteServer();
  const d = await lab.startDaemon(`[profile tight]\nbuffer = 1m\n[defaults]\nprofile = tight\n`);
  await call({ op: 'attach', vif: 'vif1.0' }, { socket: d.socket });
  const transfer = lab.transfer(1, { dir: 'up', size: '1g', timeoutSec: 62 });
  const samples: Array<{ t: number; kernel: number; rss: number; buffered: number }> = [];
  const t0 = Date.now();
  while (Date.now() - t0 < 60_000) {
    await sleep(5000);
    const mem = await socketMemory(lab.ns.dom0);
    const st = await call<StatusInfo>({ op: 'status' }, { socket: d.socket });
    samples.push({
      t: Math.round((Date.now() - t0) / 1000),
      kernel: mem.reduce((a, m) => a + m.rmem + m.wmem + m.backlog, 0),
      rss: rssOf(d.pid), buffered: st.memory.bufferedBytes,
    });
  }
  const r = await transfer;
  const sent = r.transfers[0]!;
  console.log('memory samples (s, kernel bytes, daemon RSS, user-space buffered):',
    samples.map((s) => `${s.t}s ${s.kernel} ${s.rss} ${s.buffered}`).join(' | '));
  // The kernel holds at most the legs' buffers: SO_SNDBUF (wan, = buffer) and SO_RCVBUF
  // (guest, = buffer/4), each doubled by the kernel for bookkeeping, plus one
  // 64 KiB skb of overshoot per socket (TCP checks the limit before it queues).
  const kernelBound = 2 * (BUFFER + BUFFER / 4) + 2 * 65536;
  const userBound = 256 * 1024 + 64 * 1024; // relay high-water mark + one read chunk
  for (const s of samples) {
    assert.ok(s.kernel <= kernelBound, `kernel socket memory ${s.kernel} > bound ${kernelBound} at ${s.t}s`);
    assert.ok(s.buffered <= userBound, `user-space buffered ${s.buffered} > ${userBound} at ${s.t}s`);
  }
  // Flat: the daemon's RSS after a minute is within 16 MiB of what it was at 10 s.
  const early = samples[1]!.rss, late = samples[samples.length - 1]!.rss;
  assert.ok(late - early < 16 * 1024 * 1024, `daemon RSS grew from ${early} to ${late}`);
  // And the guest was really pushing: it was only ever limited by Dom0's bounded buffers.
  assert.not.ok(sent.ok, 'a 1 GB upload cannot finish at 2 Mbit/s in 62 s');
});

test.run();
