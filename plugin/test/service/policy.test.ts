// The accept-time destination check (service/policy.ts): the same never-split
// list as the steering's sets (config/never-split.ts), Dom0's own addresses,
// and the profile's exclusions.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { judgeDestination, inCidr, plainIp } from '../../src/service/policy.js';
import { NEVER_SPLIT_V4, NEVER_SPLIT_V6 } from '../../src/config/never-split.js';
import { baseRules } from '../../src/steering/rules.js';

const judge = (ip: string, port = 80, local = new Set<string>(), ports: Array<{ from: number; to: number }> = [], cidrs: Array<{ address: string; prefix: number }> = []) =>
  judgeDestination(ip, port, local, ports, cidrs);

test('every never-split prefix is refused at accept, and is in the steering\'s sets', () => {
  const rules = baseRules(1).join('\n');
  for (const c of [...NEVER_SPLIT_V4, ...NEVER_SPLIT_V6]) {
    const [addr] = c.split('/');
    const v = judge(addr!);
    assert.is(v.split, false, c);
    assert.ok(rules.includes(c), `${c} in the nftables never-split sets`);
  }
  for (const ip of ['127.0.0.1', '169.254.1.1', '239.1.2.3', '::1', 'fe80::1', 'ff02::1', '::ffff:7f00:1']) assert.is(judge(ip).split, false, ip);
});

test('ordinary destinations are split; Dom0\'s own addresses, excluded ports and CIDRs are not, each with its reason', () => {
  assert.equal(judge('198.51.100.7'), { split: true });
  assert.equal(judge('2001:db8::7'), { split: true });
  assert.equal(judge('192.0.2.1', 80, new Set(['192.0.2.1'])), { split: false, reason: "192.0.2.1 is Dom0's own address" });
  assert.equal(judge('198.51.100.7', 22, new Set(), [{ from: 20, to: 23 }]), { split: false, reason: 'port 22 is excluded' });
  assert.equal(judge('10.9.1.1', 80, new Set(), [], [{ address: '10.9.0.0', prefix: 16 }]), { split: false, reason: '10.9.1.1 is in excluded 10.9.0.0/16' });
  assert.match((judge('127.0.0.1') as { reason: string }).reason, /127\.0\.0\.0\/8 \(never split\)/);
});

test('IPv4-mapped addresses are judged as the IPv4 address they are', () => {
  assert.is(plainIp('::ffff:192.0.2.1'), '192.0.2.1');
  assert.is(judge('::ffff:127.0.0.1').split, false);
  assert.ok(inCidr('::ffff:10.1.2.3', { address: '10.0.0.0', prefix: 8 }));
  assert.not.ok(inCidr('10.1.2.3', { address: 'fd00::', prefix: 8 }), 'families never match each other');
});

test.run();
