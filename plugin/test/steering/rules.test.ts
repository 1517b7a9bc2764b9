// The nftables rules xlnet renders (steering/rules.ts), per vif mode and per
// attachment change. These check the text the daemon hands to `nft -i`; the
// lab suites (lab/test/localack*.test.ts, admin*.test.ts) check that the
// kernel takes it and that it diverts what it should.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  MARK_BASE, TABLE, attachmentRules, baseRules, detachRules, forgetFlowRule, localAddressRules, rememberFlowRule,
  replyChainRules, scopeRules, selectorRules, stopNewFlowsRules, type AttachmentSteering,
} from '../../src/steering/rules.js';
import { ROUTED_SCOPE } from '../../src/steering/routes.js';

const bridged = (over: Partial<AttachmentSteering> = {}): AttachmentSteering => ({
  id: 3, vif: 'vif3.0', mode: 'bridge', bridgeMac: '02:00:00:00:00:01', maxFlows: 1024, flowTimeoutSec: 360,
  selector: { excludePorts: [[22, 22], [6000, 6010]], excludeCidrs: ['10.9.0.0/16', 'fd00:9::/32'] },
  scope: { allow4: ['0.0.0.0/0'], allow6: ['::/0'], deny4: ['192.168.100.0/24'], deny6: [] },
  ...over,
});
const routed = (over: Partial<AttachmentSteering> = {}): AttachmentSteering =>
  bridged({ id: 4, vif: 'vif4.0', mode: 'route', bridgeMac: undefined, scope: ROUTED_SCOPE, ...over });

const mark = (id: number) => `0x${(MARK_BASE | id).toString(16).padStart(8, '0')}`;
/** Set names an object list creates or deletes. */
const sets = (rules: string[], verb: 'add' | 'delete') =>
  rules.map((r) => new RegExp(`^${verb} set (\\w+) ${TABLE} (\\w+)`).exec(r)).filter(Boolean).map((m) => `${m![1]} ${m![2]}`).sort();

test('base rules: both families get the never-split sets, the TPROXY to the listener port, and Dom0-local destinations are unmarked', () => {
  const r = baseRules(40123);
  for (const fam of ['bridge', 'inet']) {
    assert.ok(r.includes(`add table ${fam} ${TABLE} { flags owner; }`), `${fam} table owned by the nft process (fail-open)`);
    assert.ok(r.some((l) => l.startsWith(`add element ${fam} ${TABLE} nosplit4 { `) && l.includes('127.0.0.0/8') && l.includes('169.254.0.0/16')));
    assert.ok(r.some((l) => l.startsWith(`add element ${fam} ${TABLE} nosplit6 { `) && l.includes('fe80::/10')));
  }
  assert.ok(r.some((l) => l.includes('tproxy ip to 127.0.0.1:40123')));
  assert.ok(r.some((l) => l.includes('tproxy ip6 to [::1]:40123')));
  const local = r.findIndex((l) => l.includes('fib daddr type local meta mark set 0'));
  const tproxy = r.findIndex((l) => l.includes('tproxy'));
  assert.ok(local >= 0 && local < tproxy, 'the local-destination guard comes before TPROXY');
});

test('a bridged vif: objects in the bridge family, frames rewritten to the bridge MAC, jump from the vifs map', () => {
  const a = bridged();
  const r = attachmentRules(a);
  assert.ok(r.every((l) => !l.includes(' inet ')), 'nothing in the inet family');
  assert.ok(r.includes(`add element bridge ${TABLE} vifs { "vif3.0" : jump v3 }`));
  assert.ok(r.some((l) => l.includes(`ether daddr set 02:00:00:00:00:01 meta pkttype set host meta mark set ${mark(3)} accept`)));
  assert.ok(r.some((l) => /add set bridge xlnet f4_3 \{ type ipv4_addr . inet_service . ipv4_addr . inet_service; size 1024; flags dynamic,timeout; timeout 360s; \}/.test(l)));
  assert.ok(r.includes(`add element bridge ${TABLE} xp_3 { 22, 6000-6010 }`));
  assert.ok(r.includes(`add element bridge ${TABLE} x4_3 { 10.9.0.0/16 }`));
  assert.ok(r.includes(`add element bridge ${TABLE} x6_3 { fd00:9::/32 }`));
  assert.ok(r.includes(`add element bridge ${TABLE} r4_3 { 192.168.100.0/24 }`));
  // A new connection is remembered only through every exclusion, the never-split set first.
  const syn4 = r.find((l) => l.includes('tcp flags syn / syn,ack') && l.includes(' ip daddr'));
  assert.ok(syn4 && /ip daddr != @nosplit4 ip daddr @a4_3 ip daddr != @r4_3 ip daddr != @x4_3 tcp dport != @xp_3 update @f4_3/.test(syn4), syn4);
});

test('a routed vif: objects in the inet family, only the mark set, jump from the rvifs map', () => {
  const r = attachmentRules(routed());
  assert.ok(r.every((l) => !l.includes(' bridge ')), 'nothing in the bridge family');
  assert.ok(r.includes(`add element inet ${TABLE} rvifs { "vif4.0" : jump v4 }`));
  assert.ok(r.some((l) => l.endsWith(`meta mark set ${mark(4)}`)), 'routed traffic is marked, then TPROXY takes it');
  assert.ok(!r.some((l) => l.includes('ether daddr')), 'no MAC rewrite');
  assert.ok(r.includes(`add element inet ${TABLE} a4_4 { 0.0.0.0/0 }`));
  assert.ok(!r.some((l) => l.startsWith(`add element inet ${TABLE} r4_4`)), 'no denied prefixes: no element line');
});

test('detach removes exactly the sets, chain and map element that attach added', () => {
  for (const a of [bridged(), routed()]) {
    const add = attachmentRules(a), del = detachRules(a);
    assert.equal(sets(del, 'delete'), sets(add, 'add'), `${a.mode}: every set added is deleted`);
    const fam = a.mode === 'bridge' ? 'bridge' : 'inet';
    assert.ok(del.includes(`delete chain ${fam} ${TABLE} v${a.id}`));
    assert.ok(del[0]!.startsWith(`delete element ${fam} ${TABLE} ${a.mode === 'bridge' ? 'vifs' : 'rvifs'} { "${a.vif}" }`), 'the jump goes first');
  }
});

test('set: the selector\'s exclusions are flushed and rendered anew; an empty list leaves its set empty', () => {
  const a = bridged({ selector: { excludePorts: [], excludeCidrs: ['192.0.2.0/24'] } });
  assert.equal(selectorRules(a), [
    `flush set bridge ${TABLE} xp_3`, `flush set bridge ${TABLE} x4_3`, `flush set bridge ${TABLE} x6_3`,
    `add element bridge ${TABLE} x4_3 { 192.0.2.0/24 }`,
  ]);
});

test('route scope change: the four scope sets are flushed and refilled', () => {
  const r = scopeRules(bridged({ scope: { allow4: ['10.1.0.0/16'], allow6: [], deny4: [], deny6: ['fd01::/64'] } }));
  assert.equal(r, [
    `flush set bridge ${TABLE} a4_3`, `flush set bridge ${TABLE} a6_3`, `flush set bridge ${TABLE} r4_3`, `flush set bridge ${TABLE} r6_3`,
    `add element bridge ${TABLE} a4_3 { 10.1.0.0/16 }`, `add element bridge ${TABLE} r6_3 { fd01::/64 }`,
  ]);
});

test('drain: the chain keeps diverting (and refreshing) remembered flows but no longer remembers new SYNs', () => {
  for (const a of [bridged(), routed()]) {
    const r = stopNewFlowsRules(a);
    const fam = a.mode === 'bridge' ? 'bridge' : 'inet';
    assert.equal(r.slice(0, 2), [`add chain ${fam} ${TABLE} v${a.id}`, `flush chain ${fam} ${TABLE} v${a.id}`]);
    assert.is(r.length, 4);
    // A busy drained flow keeps its set element fresh (update), or it loses its diversion at the element's timeout.
    assert.ok(r.slice(2).every((l) => /@f[46]_\d+ update @f[46]_\d+ /.test(l) && !l.includes('syn')), r.join('\n'));
    // The same rules as while active, less the SYN ones.
    const active = attachmentRules(a).filter((l) => l.startsWith(`add rule ${fam} ${TABLE} v${a.id} `) && !l.includes('syn'));
    assert.equal(active, r.slice(2));
  }
});

test('reply chain: rebuilt whole, one pair of rules per bridged vif, none for routed ones', () => {
  const r = replyChainRules([bridged(), routed(), bridged({ id: 7, vif: 'vif7.0', bridgeMac: '02:00:00:00:00:07' })]);
  assert.is(r[0], `flush chain bridge ${TABLE} replies`);
  assert.is(r.length, 5);
  assert.ok(r.some((l) => l.includes('@f4_3') && l.includes('02:00:00:00:00:01')));
  assert.ok(r.some((l) => l.includes('@f6_7') && l.includes('02:00:00:00:00:07')));
  assert.ok(!r.some((l) => l.includes('_4 ')), 'the routed vif has no reply rule');
  assert.equal(replyChainRules([]), [`flush chain bridge ${TABLE} replies`]);
});

test('remembered and forgotten flow tuples name the vif\'s set of the right family, guest side first', () => {
  assert.is(rememberFlowRule({ id: 3, mode: 'bridge' }, '10.0.0.5', 40000, '198.51.100.1', 443),
    `add element bridge ${TABLE} f4_3 { 10.0.0.5 . 40000 . 198.51.100.1 . 443 }`);
  assert.is(forgetFlowRule({ id: 4, mode: 'route' }, 'fd00::5', 40000, '2001:db8::1', 80),
    `delete element inet ${TABLE} f6_4 { fd00::5 . 40000 . 2001:db8::1 . 80 }`);
});

test('Dom0\'s addresses join the never-split sets of both families, split by address family', () => {
  assert.equal(localAddressRules(['192.0.2.1', 'fd00::1']), [
    `add element bridge ${TABLE} nosplit4 { 192.0.2.1 }`, `add element bridge ${TABLE} nosplit6 { fd00::1 }`,
    `add element inet ${TABLE} nosplit4 { 192.0.2.1 }`, `add element inet ${TABLE} nosplit6 { fd00::1 }`,
  ]);
  assert.equal(localAddressRules([]), []);
});

test.run();
