// Which vifs get local acknowledgement at hotplug time, for every way of
// asking (backend localack key, script=vif-localack, [domain] rules) and
// their combinations; and agreement with what `xlnet check` predicts from
// the guest's xl config.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError, builtinConfig, checkDomainConfig, parseXlnetConf, type XlnetConfig } from '../../src/config/index.js';
import { decideLocalack, isLocalackScript, type Activation, type VifFacts } from '../../src/hotplug/decision.js';

const CONF = `
[defaults]
profile = default
required = no

[profile sat]
buffer = 16m

[domain web1]
localack = sat

[domain off1]
localack = 0

[domain db-*]
localack = required
vifs = 0

[domain web-*]
localack = 0

[domain web-exact]
localack = sat

[domain two]
localack = 1
vifs = 1
`;
const cfg = parseXlnetConf(CONF, '/etc/xen/xlnet.conf');
const strict = parseXlnetConf(`${CONF}`.replace('required = no', 'required = yes'), '/etc/xen/xlnet.conf');
const LA = '/etc/xen/scripts/vif-localack';
const BR = '/etc/xen/scripts/vif-bridge';

interface Row {
  what: string;
  facts: VifFacts;
  cfg?: XlnetConfig;
  want: { activation: Activation; enabled: boolean; required: boolean; profile?: string; problem?: RegExp; warning?: RegExp };
}

const ROWS: Row[] = [
  { what: 'a plain vif of an unlisted domain is left alone', facts: { devid: 0, script: BR, domainName: 'other' },
    want: { activation: 'none', enabled: false, required: false } },
  { what: 'backend localack=1 turns it on with [defaults] profile', facts: { devid: 0, script: BR, localack: '1', domainName: 'other' },
    want: { activation: 'localack-key', enabled: true, required: false, profile: 'default' } },
  { what: 'backend localack=required makes it required', facts: { devid: 0, script: BR, localack: 'required', domainName: 'other' },
    want: { activation: 'localack-key', enabled: true, required: true, profile: 'default' } },
  { what: 'backend localack=PROFILE picks the profile', facts: { devid: 0, script: BR, localack: 'sat', domainName: 'other' },
    want: { activation: 'localack-key', enabled: true, required: false, profile: 'sat' } },
  { what: 'backend localack=0 wins over script=vif-localack', facts: { devid: 0, script: LA, localack: '0', domainName: 'other' },
    want: { activation: 'localack-key', enabled: false, required: false } },
  { what: 'backend localack=0 wins over a [domain] rule', facts: { devid: 0, script: BR, localack: '0', domainName: 'web1' },
    want: { activation: 'localack-key', enabled: false, required: false } },
  { what: 'backend localack=1 wins over a rule saying required', facts: { devid: 0, script: BR, localack: '1', domainName: 'db-1' },
    want: { activation: 'localack-key', enabled: true, required: false, profile: 'default' } },
  { what: 'script=vif-localack alone: on with the defaults', facts: { devid: 0, script: LA, domainName: 'other' },
    want: { activation: 'script', enabled: true, required: false, profile: 'default' } },
  { what: 'script=vif-localack under [defaults] required = yes is required', facts: { devid: 0, script: LA, domainName: 'other' }, cfg: strict,
    want: { activation: 'script', enabled: true, required: true, profile: 'default' } },
  { what: 'script=vif-localack-route counts as vif-localack', facts: { devid: 0, script: '/etc/xen/scripts/vif-localack-route', domainName: 'other' },
    want: { activation: 'script', enabled: true, required: false, profile: 'default' } },
  { what: 'script=vif-localack with a rule: the rule picks the profile', facts: { devid: 0, script: LA, domainName: 'web1' },
    want: { activation: 'script', enabled: true, required: false, profile: 'sat' } },
  { what: 'script=vif-localack with a rule saying required', facts: { devid: 0, script: LA, domainName: 'db-7' },
    want: { activation: 'script', enabled: true, required: true, profile: 'default' } },
  { what: 'script=vif-localack is not turned off by a rule saying 0 (warned)', facts: { devid: 0, script: LA, domainName: 'off1' },
    want: { activation: 'script', enabled: true, required: false, profile: 'default', warning: /the script wins/ } },
  { what: 'a [domain NAME] rule turns on a plain vif-bridge vif', facts: { devid: 0, script: BR, domainName: 'web1' },
    want: { activation: 'domain-rule', enabled: true, required: false, profile: 'sat' } },
  { what: 'a glob rule covers matching names', facts: { devid: 0, script: BR, domainName: 'db-42' },
    want: { activation: 'domain-rule', enabled: true, required: true, profile: 'default' } },
  { what: 'a rule limited by vifs = leaves other devids alone (warned)', facts: { devid: 1, script: BR, domainName: 'db-42' },
    want: { activation: 'none', enabled: false, required: false, warning: /matches this domain but not devid 1/ } },
  { what: 'vifs = 1 covers devid 1', facts: { devid: 1, script: BR, domainName: 'two' },
    want: { activation: 'domain-rule', enabled: true, required: false, profile: 'default' } },
  { what: 'a rule saying 0 keeps a plain vif off', facts: { devid: 0, script: BR, domainName: 'off1' },
    want: { activation: 'domain-rule', enabled: false, required: false } },
  { what: 'the exact name beats an earlier glob', facts: { devid: 0, script: BR, domainName: 'web-exact' },
    want: { activation: 'domain-rule', enabled: true, required: false, profile: 'sat' } },
  { what: 'the glob decides names it matches', facts: { devid: 0, script: BR, domainName: 'web-other' },
    want: { activation: 'domain-rule', enabled: false, required: false } },
  { what: 'a domain without a name in xenstore only goes by key and script', facts: { devid: 0, script: BR },
    want: { activation: 'none', enabled: false, required: false } },
  { what: 'an unknown profile in the key: asked for, but with a problem', facts: { devid: 0, script: BR, localack: 'nosuch', domainName: 'other' },
    want: { activation: 'localack-key', enabled: true, required: false, problem: /no profile named nosuch/ } },
  { what: 'an unknown profile under [defaults] required = yes is required', facts: { devid: 0, script: BR, localack: 'nosuch', domainName: 'other' }, cfg: strict,
    want: { activation: 'localack-key', enabled: true, required: true, problem: /no profile named nosuch/ } },
  { what: 'without xlnet.conf a key still works with the built-in profile', facts: { devid: 0, script: BR, localack: '1', domainName: 'web1' }, cfg: builtinConfig(),
    want: { activation: 'localack-key', enabled: true, required: false, profile: 'default' } },
];

for (const row of ROWS) {
  test(`decision: ${row.what}`, () => {
    const d = decideLocalack(row.facts, row.cfg ?? cfg);
    assert.is(d.activation, row.want.activation, 'activation');
    assert.is(d.enabled, row.want.enabled, 'enabled');
    assert.is(d.required, row.want.required, 'required');
    assert.is(d.profile, row.want.profile, 'profile');
    if (row.want.problem) assert.match(d.problem ?? '', row.want.problem);
    else assert.is(d.problem, undefined, `unexpected problem: ${d.problem}`);
    if (row.want.warning) assert.ok(d.warnings.some((w) => row.want.warning!.test(w)), `warnings: ${d.warnings.join(' | ')}`);
    assert.ok(d.why.length > 0, 'the decision says why');
  });
}

test('decision: a broken xlnet.conf never attaches; key and script still count as asking', () => {
  const broken = new ConfigError({ code: 'E_SYNTAX', file: '/etc/xen/xlnet.conf', line: 3, problem: 'expected `[section]` or `key = value`' });
  const byKey = decideLocalack({ devid: 0, script: BR, localack: 'required', domainName: 'web1' }, broken);
  assert.is(byKey.enabled, true);
  assert.is(byKey.required, true);
  assert.match(byKey.problem ?? '', /xlnet\.conf is invalid: .*xlnet\.conf:3/);
  const byScript = decideLocalack({ devid: 0, script: LA, domainName: 'web1' }, broken);
  assert.is(byScript.enabled, true);
  assert.is(byScript.required, false);
  assert.ok(byScript.problem);
  const off = decideLocalack({ devid: 0, script: BR, localack: '0' }, broken);
  assert.is(off.enabled, false);
  const plain = decideLocalack({ devid: 0, script: BR, domainName: 'web1' }, broken);
  assert.is(plain.enabled, false);
  assert.ok(plain.warnings.some((w) => /\[domain\] rules are not applied/.test(w)));
});

test('decision: only vif-localack and vif-localack-route count as the localack script', () => {
  assert.ok(isLocalackScript('vif-localack'));
  assert.ok(isLocalackScript('/usr/local/etc/xen/scripts/vif-localack-route'));
  assert.not.ok(isLocalackScript('/etc/xen/scripts/vif-localack.bak'));
  assert.not.ok(isLocalackScript('/etc/xen/scripts/my-vif-localack'));
  assert.not.ok(isLocalackScript(undefined));
});

// `xlnet check guest.cfg` (config/vif-spec.ts) predicts the same outcome
// from the guest config that the hotplug step decides from the backend.
test('decision: agrees with `xlnet check` for every row that has a domain name', () => {
  for (const row of ROWS) {
    if (row.facts.domainName === undefined) continue;
    const c = row.cfg ?? cfg;
    const spec = [
      `mac=00:16:3e:00:00:01`,
      `devid=${row.facts.devid}`,
      row.facts.script ? `script=${row.facts.script.slice(row.facts.script.lastIndexOf('/') + 1)}` : '',
      row.facts.localack !== undefined ? `localack=${row.facts.localack}` : '',
    ].filter((s) => s !== '').join(',');
    const text = `name = "${row.facts.domainName}"\nvif = [ '${spec}' ]\n`;
    const report = checkDomainConfig(text, 'guest.cfg', c, { patchedXl: true });
    const v = report.vifs[0]!;
    const d = decideLocalack(row.facts, c);
    assert.is(d.activation, v.activation, `${row.what}: activation`);
    if (d.problem !== undefined) {
      // check reports it as an error; hotplug lets the vif up unsplit (or fails it if required)
      assert.ok(v.errors.length > 0, `${row.what}: xlnet check reports the problem too`);
      continue;
    }
    assert.is(d.enabled, v.enabled, `${row.what}: enabled`);
    assert.is(d.required, v.required, `${row.what}: required`);
    assert.is(d.profile, v.profile, `${row.what}: profile`);
  }
});

test.run();
