import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ValueError } from '../../src/config/config-error.js';
import { formatCidrList, parseCidrList } from '../../src/config/cidr-list.js';
import { formatPortList, parsePortList, portInList } from '../../src/config/port-list.js';
import { formatDuration, formatSize, parseDuration, parseSize } from '../../src/config/units.js';

function problem(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.instance(e, ValueError);
    return (e as ValueError).problem;
  }
  assert.unreachable('expected a ValueError');
  return '';
}

test('parseSize: bytes and binary k/m/g suffixes, any case, spaces tolerated', () => {
  const cases: [string, number][] = [
    ['0', 0], ['65536', 65536], ['64k', 65536], ['64K', 65536], ['4m', 4194304], ['4M', 4194304],
    ['1g', 1073741824], [' 2m ', 2097152], ['8 k', 8192],
  ];
  for (const [s, n] of cases) assert.is(parseSize(s), n, s);
});

test('parseSize: rejects what is not a size', () => {
  for (const s of ['', '12q', '4mb', '1.5m', '-1', 'm', '4 m b', '0x10', '4mi']) {
    assert.is(problem(() => parseSize(s)), 'not a size', s);
  }
  assert.is(problem(() => parseSize('99999999999g')), 'too large');
});

test('formatSize: largest exact suffix, round-trips', () => {
  const cases: [number, string][] = [[0, '0'], [1000, '1000'], [65536, '64k'], [4194304, '4m'], [1073741824, '1g'], [1536, '1536'], [3145728, '3m'], [1610612736, '1536m']];
  for (const [n, s] of cases) {
    assert.is(formatSize(n), s);
    assert.is(parseSize(s), n);
  }
});

test('parseDuration: s/m/h/d suffixes, bare seconds, combined parts', () => {
  const cases: [string, number][] = [
    ['0', 0], ['30', 30], ['30s', 30], ['1m', 60], ['1h', 3600], ['2d', 172800], ['1h30m', 5400],
    ['1d2h3m4s', 93784], ['90S', 90], [' 5m ', 300],
  ];
  for (const [s, n] of cases) assert.is(parseDuration(s), n, s);
});

test('parseDuration: rejects garbage and out-of-order units', () => {
  for (const s of ['', 'soon', '1.5h', '-1s', '10ms', '1w', 'h', '1 h']) {
    assert.ok(problem(() => parseDuration(s)).startsWith('not a duration'), s);
  }
  assert.match(problem(() => parseDuration('30m1h')), /largest to smallest/);
  assert.match(problem(() => parseDuration('1h1h')), /largest to smallest/);
});

test('formatDuration: largest exact unit, round-trips', () => {
  const cases: [number, string][] = [[0, '0'], [30, '30s'], [60, '1m'], [90, '90s'], [3600, '1h'], [5400, '90m'], [86400, '1d'], [93784, '93784s']];
  for (const [n, s] of cases) {
    assert.is(formatDuration(n), s);
    assert.is(parseDuration(s), n);
  }
});

test('parsePortList: ports and ranges, spaces, empty list', () => {
  assert.equal(parsePortList(''), []);
  assert.equal(parsePortList('  '), []);
  assert.equal(parsePortList('22'), [{ from: 22, to: 22 }]);
  assert.equal(parsePortList('22,5900-5999'), [{ from: 22, to: 22 }, { from: 5900, to: 5999 }]);
  assert.equal(parsePortList(' 22 , 80 - 81 ,65535'), [{ from: 22, to: 22 }, { from: 80, to: 81 }, { from: 65535, to: 65535 }]);
  assert.equal(parsePortList('1-1'), [{ from: 1, to: 1 }]);
});

test('parsePortList: every kind of bad item says which', () => {
  assert.match(problem(() => parsePortList('0')), /port 0 is outside 1..65535/);
  assert.match(problem(() => parsePortList('65536')), /port 65536 is outside/);
  assert.match(problem(() => parsePortList('22,,80')), /empty item/);
  assert.match(problem(() => parsePortList('22,')), /empty item/);
  assert.match(problem(() => parsePortList('ssh')), /`ssh' is not a port/);
  assert.match(problem(() => parsePortList('100-90')), /ends before it starts/);
  assert.match(problem(() => parsePortList('1-2-3')), /not a port/);
});

test('port lists format back and answer membership', () => {
  const l = parsePortList('22,5900-5999');
  assert.is(formatPortList(l), '22,5900-5999');
  assert.ok(portInList(22, l));
  assert.ok(portInList(5950, l));
  assert.not.ok(portInList(23, l));
  assert.not.ok(portInList(6000, l));
});

test('parseCidrList: IPv4, IPv6, bare hosts, mapped addresses', () => {
  assert.equal(parseCidrList(''), []);
  assert.equal(parseCidrList('10.0.0.0/8, fd00::/8'), [
    { family: 4, address: '10.0.0.0', prefix: 8 },
    { family: 6, address: 'fd00::', prefix: 8 },
  ]);
  assert.equal(parseCidrList('192.0.2.7'), [{ family: 4, address: '192.0.2.7', prefix: 32 }]);
  assert.equal(parseCidrList('2001:DB8::1'), [{ family: 6, address: '2001:db8::1', prefix: 128 }]);
  assert.equal(parseCidrList('0.0.0.0/0,::/0'), [
    { family: 4, address: '0.0.0.0', prefix: 0 },
    { family: 6, address: '::', prefix: 0 },
  ]);
  assert.equal(parseCidrList('::ffff:192.0.2.0/120'), [{ family: 6, address: '::ffff:192.0.2.0', prefix: 120 }]);
  assert.is(formatCidrList(parseCidrList('10.0.0.0/8,192.0.2.7,fd00::/8')), '10.0.0.0/8,192.0.2.7/32,fd00::/8');
});

test('parseCidrList: host bits, bad prefixes and non-addresses are refused with a hint', () => {
  assert.match(problem(() => parseCidrList('10.0.0.1/8')), /host bits set \(did you mean 10.0.0.0\/8\?\)/);
  assert.match(problem(() => parseCidrList('fd00::1/8')), /did you mean fd00::\/8\?/);
  assert.match(problem(() => parseCidrList('2001:db8:1:2::/32')), /did you mean 2001:db8::\/32\?/);
  assert.match(problem(() => parseCidrList('::ffff:192.0.2.1/120')), /did you mean ::ffff:c000:200\/120\?/);
  assert.match(problem(() => parseCidrList('10.0.0.0/33')), /prefix length must be 0..32/);
  assert.match(problem(() => parseCidrList('fd00::/129')), /prefix length must be 0..128/);
  assert.match(problem(() => parseCidrList('10.0.0.0/')), /prefix length/);
  assert.match(problem(() => parseCidrList('10.0.0.0/x')), /prefix length/);
  assert.match(problem(() => parseCidrList('10.0.0/8')), /not an IPv4 or IPv6/);
  assert.match(problem(() => parseCidrList('010.0.0.0/8')), /not an IPv4 or IPv6/);
  assert.match(problem(() => parseCidrList('fe80::1%eth0')), /not an IPv4 or IPv6/);
  assert.match(problem(() => parseCidrList('example.com')), /not an IPv4 or IPv6/);
  assert.match(problem(() => parseCidrList('10.0.0.0/8,,fd00::/8')), /empty item/);
});

test.run();
