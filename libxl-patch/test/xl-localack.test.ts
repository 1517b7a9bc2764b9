// test-timeout: 1800 (image or Xen tools builds from an empty cache, QEMU under TCG)
// `localack=` in a vif spec, as an admin meets it: the patched xl carries it
// into the domain config (and network-attach), refuses bad values with a
// message naming them, and the stock xl of xen-utils-4.17 does not know it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  attachedNic,
  createDryRun,
  domainConfig,
  ensureBuilt,
  nicsOf,
  patchedXl,
  stockXl,
} from './xl-dryrun.ts';

test.before(() => {
  ensureBuilt();
});

for (const value of ['1', 'required', 'satellite_eu-2']) {
  test(`xl create: localack=${value} reaches the domain config`, () => {
    const r = createDryRun(domainConfig([`bridge=xenbr0,localack=${value}`]));
    assert.is(r.status, 0, r.stderr);
    const nics = nicsOf(r);
    assert.is(nics.length, 1);
    assert.is(nics[0].localack, value);
    assert.is(nics[0].bridge, 'xenbr0');
    assert.not.match(r.stderr, /unrecognized argument/);
  });
}

test('xl create: each vif keeps its own localack', () => {
  const r = createDryRun(
    domainConfig(['bridge=xenbr0,localack=1', 'bridge=xenbr1', 'localack=bulk,bridge=xenbr2']),
  );
  assert.is(r.status, 0, r.stderr);
  assert.equal(
    nicsOf(r).map((n) => [n.bridge, n.localack]),
    [
      ['xenbr0', '1'],
      ['xenbr1', undefined],
      ['xenbr2', 'bulk'],
    ],
  );
});

const rejected: Array<[string, string, RegExp]> = [
  // [vif spec, value xl must name, why]
  ['bridge=xenbr0,localack=yes,please', 'yes', /use 1 to enable or 0 to disable/],
  ['bridge=xenbr0,localack=', '', /it is empty/],
  ['bridge=xenbr0,localack=a b', 'a b', /character ` ' is not allowed/],
];
for (const [spec, value, why] of rejected) {
  test(`xl create: '${spec}' fails and names \`${value}'`, () => {
    const r = createDryRun(domainConfig([spec]));
    assert.is(r.status, 1, `exit status; stderr: ${r.stderr}`);
    assert.ok(
      r.stderr.includes(`Invalid localack value \`${value}'`),
      `stderr names the value: ${r.stderr}`,
    );
    assert.match(r.stderr, why);
    assert.match(r.stderr, /allowed are 0, 1, required or a profile name/);
    assert.is(r.stdout, '', 'no domain config printed');
  });
}

test('xl network-attach: localack=required is attached', () => {
  const r = patchedXl(['network-attach', '0', 'bridge=xenbr0', 'localack=required']);
  assert.is(r.status, 0, r.stderr);
  assert.is(attachedNic(r).localack, 'required');
});

test('xl network-attach: a bad value exits 1 naming it', () => {
  // One argv word, so the comma stays inside the value here.
  const r = patchedXl(['network-attach', '0', 'bridge=xenbr0', 'localack=yes,please']);
  assert.is(r.status, 1);
  assert.ok(r.stderr.includes("Invalid localack value `yes,please'"), r.stderr);
  assert.is(r.stdout, '');
});

test('stock xl (xen-utils-4.17) drops localack=1 with "unrecognized argument"', () => {
  const r = createDryRun(domainConfig(['bridge=xenbr0,localack=1']), stockXl);
  assert.is(r.status, 0, 'the stock xl still starts the domain');
  assert.ok(r.stderr.includes("unrecognized argument `localack=1'"), r.stderr);
  const nics = nicsOf(r);
  assert.is(nics[0].bridge, 'xenbr0');
  assert.is(nics[0].localack, undefined);
});

test('stock xl network-attach refuses localack=1', () => {
  const r = stockXl(['network-attach', '0', 'bridge=xenbr0', 'localack=1']);
  assert.is(r.status, 1);
  assert.ok(r.stderr.includes("unrecognized argument `localack=1'"), r.stderr);
});

test.run();
