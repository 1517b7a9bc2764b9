// The steering rules applied by the real nft in a private network namespace
// (unshare -n): they can run again over what a previous xlnetd left without
// duplicating a rule or forgetting an established flow; a drained vif keeps
// refreshing its flows; a stop removes every SYN rule in one batch.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import {
  attachmentRules, baseRules, newFlowsDirectRules, rememberFlowRule, replyChainRules, stopNewFlowsRules, type AttachmentSteering,
} from '../../src/steering/rules.js';
import { ROUTED_SCOPE } from '../../src/steering/routes.js';

const att = (id: number, vif: string, mode: 'bridge' | 'route' = 'bridge', ipv6 = true): AttachmentSteering => ({
  id, vif, mode, bridge: 'xenbr0', bridgeMac: '02:58:4e:00:00:01', maxFlows: 100, flowTimeoutSec: 90, ipv6,
  selector: { excludePorts: [[22, 22]], excludeCidrs: ['192.0.2.0/24'] }, scope: ROUTED_SCOPE,
});

/** Runs batches (each a list of commands, one atomic line) in one `nft -i`
 * session (the tables are owned by it) in a fresh network namespace; returns
 * the ruleset listed at the end. */
function nft(batches: string[][]): string {
  const r = spawnSync('unshare', ['-n', 'nft', '-i'], { input: `${batches.map((b) => b.join('; ')).join('\n')}\nlist ruleset\n`, encoding: 'utf8' });
  if (r.status !== 0 || r.stderr.includes('Error')) throw new Error(`nft: ${r.stderr}`);
  return r.stdout;
}

const count = (text: string, what: string) => text.split('\n').filter((l) => l.includes(what)).length;

test('base and attachment rules run again over a previous run: no rule twice, the established flow kept', () => {
  const a = [att(1, 'vif1.0'), att(2, 'vif2.0', 'route')];
  const install = [[...baseRules(4242), ...a.flatMap(attachmentRules), ...replyChainRules(a)]];
  const flow = [[rememberFlowRule({ id: 1, mode: 'bridge' }, '10.0.0.5', 40000, '198.51.100.7', 443)]];
  const once = nft([...install, ...flow]);
  const twice = nft([...install, ...flow, ...install]);
  assert.is(count(twice, 'tproxy ip to'), 1);
  assert.is(count(twice, 'tproxy ip6 to'), 1);
  assert.is(count(twice, 'iifname vmap @vifs'), 1);
  assert.is(count(twice, 'jump synacks'), 1);
  assert.is(count(twice, 'oifname != @legs drop'), 1);
  assert.is(count(twice, 'fib daddr oifname vmap @rreplies'), 1);
  assert.is(count(twice, 'tcp flags syn / syn,ack'), count(once, 'tcp flags syn / syn,ack'));
  assert.is(count(twice, 'tcp flags syn / syn,ack'), 4);
  assert.match(twice, /10\.0\.0\.5 \. 40000 \. 198\.51\.100\.7 \. 443/, 'the established flow is still in its set');
});

test('a drained vif keeps refreshing its established flows (update), and diverts no SYN', () => {
  const out = nft([[...baseRules(4242), ...attachmentRules(att(1, 'vif1.0'))], stopNewFlowsRules(att(1, 'vif1.0'))]);
  const body = /chain v1 \{([\s\S]*?)\n\t\}/.exec(out)?.[1] ?? '';
  assert.is(count(body, 'update @f4_1'), 1);
  assert.is(count(body, 'update @f6_1'), 1);
  assert.is(count(body, 'tcp flags syn / syn,ack'), 0);
});

test('new flows direct: one batch removes the SYN rules of every vif, established flows keep theirs', () => {
  const a = [att(1, 'vif1.0'), att(2, 'vif2.0', 'route'), att(3, 'vif3.0')];
  const out = nft([[...baseRules(4242), ...a.flatMap(attachmentRules), ...replyChainRules(a)], newFlowsDirectRules(a)]);
  assert.is(count(out, 'tcp flags syn / syn,ack'), 0);
  for (const id of [1, 2, 3]) assert.is(count(out, `update @f4_${id}`), 1);
  assert.is(newFlowsDirectRules(a).filter((c) => c.startsWith('flush chain')).length, 3);
});

test('IPv6 off: no IPv6 SYN is diverted and no tproxy to ::1', () => {
  const out = nft([[...baseRules(4242, false), ...attachmentRules(att(1, 'vif1.0', 'bridge', false))]]);
  assert.is(count(out, 'tproxy ip6'), 0);
  assert.is(count(out, 'tcp flags syn / syn,ack'), 1);
  assert.match(out, /tcp flags syn \/ syn,ack[^\n]*ip daddr/);
});

test.run();
