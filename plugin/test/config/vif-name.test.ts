// The one vif-name rule (config/vif-name.ts), as the CLI and xlnetd apply it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isVifName, MAX_IFNAME_BYTES } from '../../src/config/vif-name.js';
import { checkVifName } from '../../src/cli/verbs/vif-args.js';

const ok = ['vif3.0', 'vif12.1-emu', 'vif0.0', 'xenbr0', 'eth0', 'web_front', 'a', 'vif32767.255', 'x'.repeat(MAX_IFNAME_BYTES)];
const bad = [
  '', '.', '..', 'x'.repeat(MAX_IFNAME_BYTES + 1),
  'eth0:1', // ':' is an alias label, never an interface (Linux refuses it)
  'a/b', 'vif 1', 'vif\t1', 'vif1\n',
  'vif"1', "vif'1", 'vif;1', 'vif}1', 'vif$1', // would break the nftables rules or a shell
  'vïf1.0', // not ASCII: bytes and characters differ
];

test('Xen\'s vif names and ordinary interface names are taken', () => {
  for (const n of ok) assert.ok(isVifName(n), n);
});

test('what Linux refuses, and what could not be written into nftables rules, is not', () => {
  for (const n of bad) assert.not.ok(isVifName(n), JSON.stringify(n));
});

test('the CLI refuses the same names with a usage error naming the rule', () => {
  for (const n of ok) checkVifName(n, 'attach');
  for (const n of bad) {
    assert.throws(() => checkVifName(n, 'attach'), (e: Error) => /is not an interface name xlnet takes \(1-15 letters, digits/.test(e.message), JSON.stringify(n));
  }
});

test.run();
