// test-timeout: 1800 (image or Xen tools builds from an empty cache, QEMU under TCG)
// The localack part of xl's vif parser, case by case, through the patched xl
// itself: each spec is parsed once as a domain config (`xl -N create`) and
// once on the command line (`xl -N network-attach 0 word...`, the spec split
// at commas as xl splits a config entry).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { attachedNic, createDryRun, domainConfig, ensureBuilt, nicsOf, patchedXl } from './xl-dryrun.ts';

type Case =
  | { spec: string; localack: string | undefined } // accepted, with this value
  | { spec: string; error: string }; // refused; stderr contains this

const name32 = 'abcdefghijklmnopqrstuvwxyz012345';

const cases: Case[] = [
  { spec: 'bridge=xenbr0', localack: undefined },
  { spec: 'bridge=xenbr0,localack=0', localack: '0' },
  { spec: 'bridge=xenbr0,localack=1', localack: '1' },
  { spec: 'bridge=xenbr0,localack=required', localack: 'required' },
  { spec: 'localack=1,bridge=xenbr0', localack: '1' },
  { spec: 'bridge=xenbr0, localack=1', localack: '1' }, // xl strips leading spaces
  { spec: 'bridge=xenbr0,localack=satellite', localack: 'satellite' },
  { spec: 'bridge=xenbr0,localack=LTE_backup-2', localack: 'LTE_backup-2' },
  { spec: 'bridge=xenbr0,localack=-', localack: '-' },
  { spec: 'bridge=xenbr0,localack=_', localack: '_' },
  { spec: 'bridge=xenbr0,localack=x', localack: 'x' },
  { spec: 'bridge=xenbr0,localack=007', localack: '007' },
  { spec: `bridge=xenbr0,localack=${name32}`, localack: name32 },
  { spec: 'bridge=xenbr0,localack=1,localack=bulk', localack: 'bulk' }, // last one wins
  { spec: 'mac=00:16:3e:00:00:01,bridge=xenbr0,localack=1,mtu=1400', localack: '1' },
  { spec: 'bridge=xenbr0,localack=', error: "Invalid localack value `': it is empty" },
  { spec: `bridge=xenbr0,localack=${name32}z`, error: `\`${name32}z': it is longer than 32 characters` },
  { spec: 'bridge=xenbr0,localack=a b', error: "`a b': character ` ' is not allowed" },
  { spec: 'bridge=xenbr0,localack=1 ', error: "`1 ': character ` ' is not allowed" },
  { spec: 'bridge=xenbr0,localack=a.b', error: "`a.b': character `.' is not allowed" },
  { spec: 'bridge=xenbr0,localack=a/b', error: "`a/b': character `/' is not allowed" },
  { spec: 'bridge=xenbr0,localack=a=b', error: "`a=b': character `=' is not allowed" },
  { spec: 'bridge=xenbr0,localack=a:b', error: "`a:b': character `:' is not allowed" },
  { spec: 'bridge=xenbr0,localack=a+b', error: "`a+b': character `+' is not allowed" },
  { spec: 'bridge=xenbr0,localack=caf\u00e9', error: "`caf\u00e9': byte 0xc3 is not allowed" },
  { spec: 'bridge=xenbr0,localack=yes', error: "`yes': use 1 to enable or 0 to disable" },
  { spec: 'bridge=xenbr0,localack=no', error: "`no': use 1 to enable or 0 to disable" },
  { spec: 'bridge=xenbr0,localack=True', error: "`True': use 1 to enable" },
  { spec: 'bridge=xenbr0,localack=FALSE', error: "`FALSE': use 1 to enable" },
  { spec: 'bridge=xenbr0,localack=on', error: "`on': use 1 to enable" },
  { spec: 'bridge=xenbr0,localack=off', error: "`off': use 1 to enable" },
  { spec: 'bridge=xenbr0,localack=y', error: "`y': use 1 to enable" },
  { spec: 'bridge=xenbr0,localack=N', error: "`N': use 1 to enable" },
  { spec: 'bridge=xenbr0,localack=yes,please', error: "`yes': use 1 to enable" },
  { spec: 'localack=bad!,bridge=xenbr0', error: "`bad!': character `!' is not allowed" },
];

test.before(() => {
  ensureBuilt();
});

for (const c of cases) {
  test(`xl create: vif '${c.spec}'`, () => {
    const r = createDryRun(domainConfig([c.spec]));
    if ('error' in c) {
      assert.is(r.status, 1, `must fail; stderr: ${r.stderr}`);
      assert.ok(r.stderr.includes(c.error), `stderr should contain ${c.error}, got: ${r.stderr}`);
      assert.is(r.stdout, '');
    } else {
      assert.is(r.status, 0, r.stderr);
      assert.is(nicsOf(r)[0].localack, c.localack);
    }
  });

  test(`xl network-attach: ${c.spec.split(',').join(' ')}`, () => {
    const words = c.spec.split(',').map((w) => w.replace(/^ +/, ''));
    const r = patchedXl(['network-attach', '0', ...words]);
    if ('error' in c) {
      assert.is(r.status, 1, `must fail; stderr: ${r.stderr}`);
      assert.ok(r.stderr.includes(c.error), `stderr should contain ${c.error}, got: ${r.stderr}`);
    } else {
      assert.is(r.status, 0, r.stderr);
      assert.is(attachedNic(r).localack, c.localack);
    }
  });
}

test('a bare `localack` flag is not a keyword: create ignores it, network-attach refuses it', () => {
  const created = createDryRun(domainConfig(['bridge=xenbr0,localack']));
  assert.is(created.status, 0, created.stderr);
  assert.match(created.stderr, /unrecognized argument `localack'/);
  assert.is(nicsOf(created)[0].localack, undefined);

  const attached = patchedXl(['network-attach', '0', 'bridge=xenbr0', 'localack']);
  assert.is(attached.status, 1);
  assert.match(attached.stderr, /unrecognized argument `localack'/);
});

test.run();
