import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { scopeFromRoutes } from '../../src/steering/routes.js';

test('a bridge carrying the default route: everything except prefixes routed elsewhere', () => {
  const sc = scopeFromRoutes('xenbr0', [
    { dst: 'default', dev: 'xenbr0' },
    { dst: '10.77.0.0/24', dev: 'xenbr0' },
    { dst: '192.168.100.0/24', dev: 'eth1' },
    { dst: '10.9.9.9', dev: 'tun0' },
    { dst: '203.0.113.0/24', dev: 'xenbr0', type: 'blackhole' },
  ], [
    { dst: 'fd77::/64', dev: 'xenbr0' }, { dst: 'fe80::/64', dev: 'xenbr0' }, { dst: 'default', dev: 'xenbr0' },
  ]);
  assert.equal(sc.allow4, ['0.0.0.0/0', '10.77.0.0/24']);
  assert.equal(sc.deny4, ['192.168.100.0/24', '10.9.9.9/32']);
  assert.equal(sc.allow6, ['fd77::/64', '::/0']);
  assert.equal(sc.deny6, []);
});

test('Dom0 routes its default elsewhere: only the bridge\'s own prefixes are in scope', () => {
  const sc = scopeFromRoutes('xenbr0', [{ dst: 'default', dev: 'eth1' }, { dst: '10.1.0.0/16', dev: 'xenbr0' }], []);
  assert.equal(sc.allow4, ['10.1.0.0/16']);
  assert.equal(sc.deny4, []);
});

test('no route through the bridge at all: nothing is split', () => {
  const sc = scopeFromRoutes('xenbr0', [{ dst: 'default', dev: 'eth0' }], [{ dst: 'default', dev: 'eth0' }]);
  assert.equal([sc.allow4, sc.allow6], [[], []]);
});

test.run();
