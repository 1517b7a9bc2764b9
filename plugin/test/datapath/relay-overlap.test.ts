// TCP may queue an skb whose front repeats bytes the socket already has (a
// retransmission that partly overlaps what arrived). TCP's own reader skips
// them by sequence number; the sockmap verdict path hands over whole skbs, so
// before relay.bpf.c cut such fronts off, the target got those bytes twice
// (found as corrupted 500 MB downloads through the kernel engine in the lab).
// Here a user-space TCP peer on a TUN device (lab/tcpcraft) sends exactly such
// segments into a socket spliced by the kernel relay, and the receiver behind
// the relay must get the stream byte-exact. Everything runs in a network
// namespace made by this test; the TUN device lives only there.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { TestCgroup, buildObjects, REPO, sh } from './lab.js';

const NS = `xdp-o-${process.pid}`;
const TUN = 'xovl0';
const KERNEL_IP = '10.252.0.1', PEER_IP = '10.252.0.2';
const TCPCRAFT = join(REPO, 'lab/tcpcraft/build/tcpcraft');
let cg: TestCgroup | undefined;

test.before(() => {
  buildObjects();
  execFileSync('make', ['-s', '-C', join(REPO, 'lab/tcpcraft')], { stdio: 'inherit' });
  cg = new TestCgroup();
  sh('ip', ['netns', 'add', NS]);
  const inNs = (...a: string[]) => sh('ip', ['netns', 'exec', NS, ...a]);
  inNs('ip', 'link', 'set', 'lo', 'up');
  inNs('ip', 'tuntap', 'add', 'mode', 'tun', 'name', TUN);
  inNs('ip', 'addr', 'add', `${KERNEL_IP}/30`, 'dev', TUN);
  inNs('ip', 'link', 'set', TUN, 'up');
});

test.after(async () => {
  try { sh('ip', ['netns', 'del', NS]); } catch { /* not made */ }
  await cg?.remove();
});

test('segments repeating received bytes reach the relay target once (overlaps of 1 B to 5000 B, out of order, full duplicate)', () => {
  const child = join(REPO, 'plugin/test/datapath/relay-overlap-child.ts');
  // nsenter, not `ip netns exec`: the latter remounts /sys, hiding the cgroup and bpf file systems.
  const outText = execFileSync('nsenter', [`--net=/run/netns/${NS}`, process.execPath, '--import', 'tsx', child,
    cg!.path, TUN, PEER_IP, KERNEL_IP, '7300', TCPCRAFT], { encoding: 'utf8', cwd: REPO, timeout: 60_000 });
  const out = JSON.parse(outText.trim().split('\n').pop()!) as {
    error?: string; spliced_before_data?: boolean; received?: number; first_bad?: number;
    tcpcraft?: { ok: boolean; error?: string; sent_bytes?: number; overlap_bytes?: number; stream_len?: number };
    stat?: { redirected: number; passed: number; trimmed: number; gaps: number; faults: number };
  };
  assert.is(out.error, undefined, out.error);
  assert.ok(out.tcpcraft?.ok, `tcpcraft: ${JSON.stringify(out.tcpcraft)}`);
  assert.ok(out.spliced_before_data, 'the socket was in the relay before the first byte arrived');
  assert.is(out.first_bad, -1, `first wrong byte at the receiver: offset ${out.first_bad}`);
  assert.is(out.received, 65_000, 'the receiver got the stream exactly once');
  const st = out.stat!;
  assert.is(st.redirected, 65_000, 'every byte went through the kernel redirect');
  // What TCP queues with a repeated front: 500 + 500 (the out-of-order one) +
  // 5000 + 1000 + 1; the full duplicate never reaches the queue.
  assert.is(st.trimmed, 7001, 'the repeated fronts were cut off in the verdict');
  assert.is(st.faults, 0);
  assert.is(st.gaps, 0);
});

test.run();
