// `xlnet check GUEST.cfg` and `xlnet config check [FILE]` on real files.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, xlnet } from './helpers.js';

const { dir, cleanup } = tempDir();
const conf = join(dir, 'xlnet.conf');
writeFileSync(conf, `[defaults]
profile = sat

[profile sat]
buffer = 32m

[domain db]
localack = required
vifs = 1
`);
const xlConf = join(dir, 'xl.conf');
writeFileSync(xlConf, 'vif.default.script = "vif-bridge"\nvif.default.bridge = "xenbr7"\n');
const web = join(dir, 'web.cfg');
writeFileSync(web, `name = "web"
vif = [ 'mac=00:16:3e:00:00:01,localack=1',
        'bridge=xenbr1,script=vif-localack',
        'bridge=xenbr2' ]
`);
const db = join(dir, 'db.cfg');
writeFileSync(db, `name = "db"
vif = [ 'bridge=xenbr0', 'bridge=xenbr0,localack=yes' ]
`);
const broken = join(dir, 'broken.cfg');
writeFileSync(broken, 'name = "x"\nvif = [ \'bridge=xenbr0\'\n');

const base = ['--config', conf, '--xl-conf', xlConf];

test('check: a table per file, how each vif is turned on and with which profile', async () => {
  const r = await xlnet(['check', web, '--xl', 'patched', ...base]);
  assert.is(r.code, 0, r.err + r.out);
  assert.ok(r.out.startsWith(`xl: patched (localack= reaches the vif) (--xl); xlnet.conf: ${conf}\n`), r.out);
  const lines = r.out.split('\n');
  assert.ok(lines.includes(`${web}: domain web, 3 vifs`), r.out);
  assert.ok(lines.some((l) => /^ {4}0 +0 +2 +bridge +xenbr7 +vif-bridge +on +localack= \(patched xl\) +sat$/.test(l)), r.out);
  assert.ok(lines.some((l) => /^ {4}1 +1 +3 +bridge +xenbr1 +vif-localack +on +script=vif-localack +sat$/.test(l)), r.out);
  assert.ok(lines.some((l) => /^ {4}2 +2 +4 +bridge +xenbr2 +vif-bridge +off +- +-$/.test(l)), r.out);
});

test('check: with stock xl, localack= is dropped and the warning says what to use instead', async () => {
  const r = await xlnet(['check', web, '--xl', 'stock', ...base]);
  assert.is(r.code, 0);
  assert.ok(r.out.includes('xl: stock (localack= is dropped)'));
  assert.ok(r.out.includes("vif 0: warning: `localack=1' has no effect with stock xl"), r.out);
});

test('check: bad localack values and files xl refuses exit 1, every file is still reported', async () => {
  const r = await xlnet(['check', web, db, broken, '--xl', 'patched', ...base]);
  assert.is(r.code, 1);
  assert.ok(r.out.includes(`${db}: domain db, 2 vifs, 1 error`), r.out);
  assert.ok(r.out.includes("vif 1: error: Invalid localack value `yes': use 1 to enable or 0 to disable"), r.out);
  // [domain db] vifs = 1 with localack = required: devid 1 is on and required.
  assert.match(r.out, / {4}1 +1 +2 +bridge +xenbr0 +vif-bridge +on, required/);
  assert.ok(r.out.includes(`${broken}:`), r.out);
  assert.ok(r.err.includes('2 of 3 files with errors'), r.err);
});

test('check --json: one report per file, parseable', async () => {
  const r = await xlnet(['check', web, db, '--json', '--xl', 'patched', ...base]);
  assert.is(r.code, 1);
  const j = JSON.parse(r.out);
  assert.is(j.length, 2);
  assert.is(j[0].name, 'web');
  assert.is(j[0].ok, true);
  assert.is(j[0].vifs[1].activation, 'script');
  assert.is(j[0].vifs[0].profile, 'sat');
  assert.is(j[1].ok, false);
  assert.is(r.err, '', 'JSON mode keeps stderr for real failures');
});

test('check: a missing guest config or a broken xlnet.conf exits 1 saying which file', async () => {
  let r = await xlnet(['check', join(dir, 'nope.cfg'), ...base]);
  assert.is(r.code, 1);
  assert.ok(r.err.includes(`cannot read ${join(dir, 'nope.cfg')}: no such file`), r.err);
  const bad = join(dir, 'bad.conf');
  writeFileSync(bad, '[profile x]\nbufer = 4m\n');
  r = await xlnet(['check', web, '--config', bad]);
  assert.is(r.code, 1);
  assert.ok(r.err.includes(`${bad}:2:`), r.err);
  assert.ok(r.err.includes('xlnet config check'), r.err);
});

test('config check: ok, with a summary', async () => {
  const r = await xlnet(['config', 'check', conf]);
  assert.is(r.code, 0, r.err);
  assert.is(r.out, `${conf}: ok (profiles: default, sat; default profile sat; 1 [domain] rule)\n`);
  const viaFlag = await xlnet(['config', 'check', '--config', conf]);
  assert.is(viaFlag.out, r.out);
  const viaEnv = await xlnet(['config', 'check'], { XLNET_CONF: conf });
  assert.is(viaEnv.out, r.out);
});

test('config check: every error with file:line, exit 1', async () => {
  const bad = join(dir, 'errors.conf');
  writeFileSync(bad, '[daemon]\nlog_level = loud\n\n[profile p]\nbuffer = 12q\nbufer = 4m\n[defaults]\nprofile = nosuch\n');
  const r = await xlnet(['config', 'check', bad]);
  assert.is(r.code, 1);
  const lines = r.err.trimEnd().split('\n');
  assert.ok(lines[0].startsWith(`${bad}:2:`), r.err);
  assert.ok(lines.some((l) => l.startsWith(`${bad}:5:`) && l.includes('12q')), r.err);
  assert.ok(lines.some((l) => l.startsWith(`${bad}:6:`) && l.includes('did you mean buffer')), r.err);
  assert.ok(lines.some((l) => l.startsWith(`${bad}:8:`) && l.includes('nosuch')), r.err);
  assert.is(lines.at(-1), `xlnet config check: 4 errors in ${bad}`);
  const j = JSON.parse((await xlnet(['config', 'check', bad, '--json'])).out);
  assert.is(j.ok, false);
  assert.equal(j.errors.map((e: { line: number }) => e.line), [2, 5, 6, 8]);
  assert.is(j.errors[0].code, 'E_BAD_VALUE');
});

test('config check: a file that does not exist exits 1 and says how to make one', async () => {
  const r = await xlnet(['config', 'check', join(dir, 'missing.conf')]);
  assert.is(r.code, 1);
  assert.ok(r.err.includes('does not exist'));
  assert.ok(r.err.includes('xlnet setup'));
});

test('config check --json of a good file lists profiles and domain rules', async () => {
  const j = JSON.parse((await xlnet(['config', 'check', conf, '--json'])).out);
  assert.is(j.ok, true);
  assert.equal(j.profiles, ['default', 'sat']);
  assert.equal(j.domains, [{ pattern: 'db', localack: 'required', vifs: [1], line: 7 }]);
});

test.after(cleanup);
test.run();
