import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { unifiedDiff } from '../../src/cli/format/diff.js';
import { renderFields, renderTable } from '../../src/cli/format/table.js';
import { formatAge, formatBytes, formatRate } from '../../src/cli/format/units.js';

test('sizes are binary and human-readable', () => {
  assert.is(formatBytes(0), '0 B');
  assert.is(formatBytes(1023), '1023 B');
  assert.is(formatBytes(1536), '1.5 KiB');
  assert.is(formatBytes(45 * 1024 * 1024), '45.0 MiB');
  assert.is(formatBytes(3 * 1024 ** 4), '3.0 TiB');
  assert.is(formatBytes(-1), '-');
});

test('rates are decimal bits per second', () => {
  assert.is(formatRate(0), '0 bit/s');
  assert.is(formatRate(100), '800 bit/s');
  assert.is(formatRate(125_000), '1.0 Mbit/s');
  assert.is(formatRate(62_500_000), '500.0 Mbit/s');
  assert.is(formatRate(125_000_000), '1.0 Gbit/s');
});

test('ages show the two largest units', () => {
  assert.is(formatAge(850), '850ms');
  assert.is(formatAge(42_000), '42s');
  assert.is(formatAge(185_000), '3m05s');
  assert.is(formatAge(2 * 3600_000 + 4 * 60_000), '2h04m');
  assert.is(formatAge(3 * 86400_000 + 7 * 3600_000), '3d07h');
});

test('tables align columns, right-align numbers and have no trailing blanks', () => {
  const t = renderTable([{ header: 'VIF' }, { header: 'FLOWS', align: 'right' }, { header: 'NOTE' }], [
    ['vif1.0', '3', ''],
    ['vif12.1', '120', 'x'],
  ]);
  assert.is(t, 'VIF      FLOWS  NOTE\nvif1.0       3\nvif12.1    120  x\n');
  assert.ok(t.split('\n').every((l) => l === l.trimEnd()));
});

test('a table cut to the terminal width never wraps', () => {
  const t = renderTable([{ header: 'A' }, { header: 'B' }], [['aaaaaaaaaa', 'bbbbbbbbbb']], 12);
  assert.ok(t.split('\n').every((l) => l.length <= 12));
});

test('fields line up', () => {
  assert.is(renderFields([['a', '1'], ['long', '2']]), 'a     1\nlong  2\n');
});

test('unified diff: deletions before additions, hunks with line numbers', () => {
  const d = unifiedDiff('a\nb\nc\n', 'a\nB\nc\n', '/etc/x');
  assert.is(d, '--- /etc/x\n+++ /etc/x\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n');
  assert.is(unifiedDiff('same\n', 'same\n', '/x'), '');
  assert.ok(unifiedDiff(undefined, 'new\n', '/n').startsWith('--- /dev/null\n+++ /n\n@@ -0,0 +1,1 @@\n+new'));
});

test('unified diff: far-apart changes make two hunks', () => {
  const a = Array.from({ length: 30 }, (_, i) => `l${i}`).join('\n') + '\n';
  const b = a.replace('l2\n', 'L2\n').replace('l27\n', 'L27\n');
  const d = unifiedDiff(a, b, '/f');
  assert.is((d.match(/^@@/gm) ?? []).length, 2);
  assert.ok(d.includes('@@ -25,6 +25,6 @@'));
});

test.run();
