// The nftables rules xlnet renders (steering/rules.ts), per vif mode and per
// attachment change: the text the daemon hands to `nft -i`, what each guest's
// rules may divert (only its own traffic), and the whole ruleset loaded by the
// kernel in a throwaway network namespace. The lab suites
// (lab/test/localack*.test.ts, hostile-spoof.test.ts) check what it diverts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import {
  MARK_BASE, TABLE, attachmentRules, baseRules, detachRules, forgetFlowRule, localAddressRules, rememberFlowRule,
  replyChainRules, scopeRules, selectorRules, stopNewFlowsRules, type AttachmentSteering,
} from '../../src/steering/rules.js';
import { ROUTED_SCOPE } from '../../src/steering/routes.js';

const bridged = (over: Partial<AttachmentSteering> = {}): AttachmentSteering => ({
  id: 3, vif: 'vif3.0', mode: 'bridge', bridge: 'xenbr0', bridgeMac: '02:00:00:00:00:01', maxFlows: 1024, flowTimeoutSec: 360,
  selector: { excludePorts: [[22, 22], [6000, 6010]], excludeCidrs: ['10.9.0.0/16', 'fd00:9::/32'] },
  scope: { allow4: ['0.0.0.0/0'], allow6: ['::/0'], deny4: ['192.168.100.0/24'], deny6: [] },
  ...over,
});
const routed = (over: Partial<AttachmentSteering> = {}): AttachmentSteering =>
  bridged({ id: 4, vif: 'vif4.0', mode: 'route', bridge: undefined, bridgeMac: undefined, scope: ROUTED_SCOPE, ...over });

const mark = (id: number) => `0x${(MARK_BASE | id).toString(16).padStart(8, '0')}`;
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
  assert.equal(r.filter((l) => l.includes(' inet ')), [`add element inet ${TABLE} legs { ${mark(3)} . "xenbr0" }`],
    'in the inet family only where its guest legs may leave');
  assert.ok(r.includes(`add element bridge ${TABLE} vifs { "vif3.0" : jump v3 }`));
  assert.ok(r.some((l) => l.includes(`ether daddr set 02:00:00:00:00:01 meta pkttype set host meta mark set ${mark(3)} accept`)));
  assert.ok(r.some((l) => /add set bridge xlnet f4_3 \{ type ipv4_addr . inet_service . ipv4_addr . inet_service; size 1024; flags dynamic,timeout; timeout 360s; \}/.test(l)));
  assert.ok(r.includes(`add element bridge ${TABLE} xp_3 { 22, 6000-6010 }`));
  assert.ok(r.includes(`add element bridge ${TABLE} x4_3 { 10.9.0.0/16 }`));
  assert.ok(r.includes(`add element bridge ${TABLE} x6_3 { fd00:9::/32 }`));
  assert.ok(r.includes(`add element bridge ${TABLE} r4_3 { 192.168.100.0/24 }`));
  // A new connection is remembered only through every exclusion, the never-split set first.
  const syn4 = r.find((l) => l.includes('tcp flags syn / syn,ack') && l.includes(' ip daddr'));
  assert.ok(syn4 && /ip daddr != @nosplit4 ip daddr @a4_3 ip daddr != @r4_3 ip daddr != @x4_3 tcp dport != @xp_3 update @m_3 \{ ether saddr \} update @f4_3/.test(syn4), syn4);
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

test('detach removes exactly what attach added (sets, chains, map and set elements), the jump first', () => {
  for (const a of [bridged(), routed()]) {
    const added = attachmentRules(a).flatMap((r) => {
      const obj = /^add (set|chain) (\w+) xlnet (\w+)/.exec(r);
      if (obj) return [`${obj[1]} ${obj[2]} ${obj[3]}`];
      const el = /^add element (\w+) xlnet (vifs|rvifs|rreplies|legs) \{ ([^:}]+?)(?: : .*)? \}$/.exec(r);
      return el ? [`element ${el[1]} ${el[2]} ${el[3]}`] : [];
    });
    const del = detachRules(a);
    const deleted = del.map((r) => r.replace(/^delete (set|chain|element) (\w+) xlnet (\S+)(?: \{ (.*) \})?$/,
      (_m, kind: string, fam: string, name: string, el?: string) => (el ? `element ${fam} ${name} ${el}` : `${kind} ${fam} ${name}`)));
    assert.equal([...deleted].sort(), [...added].sort(), a.mode);
    const fam = a.mode === 'bridge' ? 'bridge' : 'inet';
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

test('drain: the chain keeps diverting remembered flows, elements refreshed as while active, but no longer remembers new SYNs', () => {
  for (const a of [bridged(), routed()]) {
    const r = stopNewFlowsRules(a);
    const fam = a.mode === 'bridge' ? 'bridge' : 'inet';
    // Re-runnable over a chain a previous xlnetd left.
    assert.equal(r.slice(0, 2), [`add chain ${fam} ${TABLE} v${a.id}`, `flush chain ${fam} ${TABLE} v${a.id}`]);
    const established = attachmentRules(a).filter((l) => l.startsWith(`add rule ${fam} ${TABLE} v${a.id} `) && !l.includes('tcp flags syn'));
    assert.is(established.length, 2);
    assert.equal(r.slice(2), established);
    for (const l of established) assert.match(l, /@f[46]_\d+ update @f[46]_\d+ \{/);
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

const inChain = (rules: string[], fam: string, chain: string) => rules.filter((r) => r.startsWith(`add rule ${fam} xlnet ${chain} `));
// Two bridged guests and a routed one, as the isolation tests see them.
const A = bridged({ id: 1, vif: 'vif1.0' });
const B = bridged({ id: 2, vif: 'vif2.0' });
const R = routed({ id: 3, vif: 'vif3.0' });

test('a bridged vif remembers a SYN\'s tuple and source MAC in its own sets, in the chain only its own frames reach', () => {
  const rules = attachmentRules(A);
  assert.ok(rules.includes('add element bridge xlnet vifs { "vif1.0" : jump v1 }'), 'chain v1 is reached by iifname vif1.0');
  const syn = inChain(rules, 'bridge', 'v1').filter((r) => r.includes('tcp flags syn / syn,ack'));
  assert.is(syn.length, 2);
  for (const r of syn) {
    assert.match(r, /update @m_1 \{ ether saddr \} update @f[46]_1 \{ ip6? saddr \. tcp sport \. ip6? daddr \. tcp dport \}/);
    assert.not.match(r, /@[fm]_2\b/);
  }
  for (const r of rules) assert.not.match(r, /@[a-z0-9]+_2\b|\bv2\b/, `no other attachment's object in: ${r}`);
});

test('replies are diverted only when addressed to a MAC of the vif whose set holds the tuple', () => {
  const rules = replyChainRules([A, R, B]);
  assert.is(rules[0], 'flush chain bridge xlnet replies');
  const adds = rules.slice(1);
  assert.is(adds.length, 4, 'two rules per bridged attachment, none for the routed one');
  for (const r of adds) {
    const [, id] = /ether daddr @m_(\d+) /.exec(r) ?? [];
    assert.ok(id, `the MAC is checked: ${r}`);
    assert.match(r, new RegExp(`ip6? daddr \\. tcp dport \\. ip6? saddr \\. tcp sport @f[46]_${id} `));
  }
});

test('a guest leg\'s SYN-ACK leaves only through the vif its SYN came in on (bridged: towards that vif\'s MACs)', () => {
  const base = baseRules(4000);
  assert.ok(base.some((r) => /^add rule bridge xlnet out .*meta mark & 0xffff0000 == 0x584e0000 .* jump synacks$/.test(r)));
  assert.equal(inChain(base, 'bridge', 'synacks'), ['add rule bridge xlnet synacks meta mark vmap @legs', 'add rule bridge xlnet synacks drop']);
  assert.ok(base.some((r) => /^add rule inet xlnet out .*meta mark \. oifname != @legs drop$/.test(r)));
  const b = attachmentRules(A);
  assert.ok(b.includes('add element bridge xlnet legs { 0x584e0001 : jump o1 }'));
  assert.equal(inChain(b, 'bridge', 'o1'), ['add rule bridge xlnet o1 oifname "vif1.0" ether daddr @m_1 accept']);
  assert.ok(b.includes('add element inet xlnet legs { 0x584e0001 . "xenbr0" }'));
  assert.ok(attachmentRules(R).includes('add element inet xlnet legs { 0x584e0003 . "vif3.0" }'));
});

test('a routed vif splits a SYN only when Dom0 routes its source back through that vif, and takes only replies routed to it', () => {
  const rules = attachmentRules(R);
  const syn = inChain(rules, 'inet', 'v3').filter((r) => r.includes('tcp flags syn / syn,ack'));
  assert.is(syn.length, 2);
  for (const r of syn) assert.match(r, 'fib saddr . iif oif exists');
  assert.ok(rules.includes('add element inet xlnet rreplies { "vif3.0" : jump rr3 }'));
  const rr = inChain(rules, 'inet', 'rr3');
  assert.is(rr.length, 2);
  for (const r of rr) assert.match(r, /ip6? daddr \. tcp dport \. ip6? saddr \. tcp sport @f[46]_3 meta mark set 0x584e0000 accept$/);
  const base = baseRules(4000);
  assert.ok(base.includes('add rule inet xlnet pre meta l4proto tcp fib daddr oifname vmap @rreplies'));
  for (const r of base) assert.not.match(r, 'socket transparent', 'no rule hands a packet to whatever transparent socket matches its tuple');
});

test('a bridged vif without its bridge is refused with its name', () => {
  const bad = { ...A, bridge: undefined };
  assert.throws(() => attachmentRules(bad), /vif1\.0: a bridged vif needs its bridge/);
  assert.throws(() => replyChainRules([bad]), /vif1\.0/);
});

const canNft = process.getuid?.() === 0 && spawnSync('nft', ['--version']).status === 0;

test('the kernel accepts the whole ruleset, and detaching leaves only the base objects', () => {
  if (!canNft) { console.log('  (kernel check skipped: needs root and nft)'); return; }
  const attached = [A, B, R];
  const detached = [
    ...replyChainRules([B]), ...detachRules(A), ...detachRules(R),
    ...replyChainRules([]), ...detachRules(B),
  ];
  const script = [
    ...baseRules(4000), ...localAddressRules(['10.77.0.1', 'fd77::1']),
    ...attached.flatMap(attachmentRules), ...replyChainRules(attached), ...stopNewFlowsRules(B),
    ...detached, 'list ruleset',
  ].join('\n');
  // The tables are owned by the nft process (flags owner): one session does it all, in a namespace of its own.
  const r = spawnSync('unshare', ['-n', 'sh', '-c', 'ip link add xenbr0 type bridge && nft -i'], { input: script, encoding: 'utf8' });
  assert.is(r.stderr, '', r.stderr);
  assert.is(r.status, 0);
  assert.not.match(r.stdout, /_\d+\b|\bv\d+\b|vif\d/, `something of an attachment is left:\n${r.stdout}`);
  assert.match(r.stdout, 'chain synacks');
});

test.run();
